"""The offline stack shared by `make run`, `make airflow` and the end-to-end tests.

Offline differs from AWS only in configuration: an Airflow AWS connection whose extra points
every client at the emulator, a bucket and role that exist there, and fast poll intervals.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from include.adult_income.settings import environment_variable as variable

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
ADULT_CSV = ROOT / "include" / "data" / "adult.csv"

OFFLINE_CONN_ID = "aws_default"
OFFLINE_REGION = "us-east-1"
OFFLINE_BUCKET = "adult-income-local"
OFFLINE_PREFIX = "adult-income"
# The emulator accepts any role; this one is moto's default account, never a real one.
OFFLINE_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
OFFLINE_CREDENTIALS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}


def connection_uri_json(endpoint_url: str) -> str:
    """The AWS connection, as Airflow reads it from ``AIRFLOW_CONN_<ID>``."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": OFFLINE_CREDENTIALS["aws_access_key_id"],
            "password": OFFLINE_CREDENTIALS["aws_secret_access_key"],
            "extra": {"region_name": OFFLINE_REGION, "endpoint_url": endpoint_url},
        }
    )


def offline_environment(endpoint_url: str, airflow_home: Path) -> dict[str, str]:
    """Environment for `airflow` commands that run the project's DAGs against the emulator."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            f"AIRFLOW_CONN_{OFFLINE_CONN_ID.upper()}": connection_uri_json(endpoint_url),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            # Airflow starts its components as `airflow ...`: the venv's must come first.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            # A safety net: any client that ignores the connection still cannot reach AWS.
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": OFFLINE_REGION,
            "AWS_ACCESS_KEY_ID": OFFLINE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": OFFLINE_CREDENTIALS["aws_secret_access_key"],
            # The DAGs' settings, as Airflow Variables from the environment (settings.py);
            # a caller's own AIRFLOW_VAR_* wins where a default is given.
            variable("aws_conn_id"): OFFLINE_CONN_ID,
            variable("region"): OFFLINE_REGION,
            variable("bucket"): OFFLINE_BUCKET,
            variable("prefix"): OFFLINE_PREFIX,
            variable("role_arn"): OFFLINE_ROLE_ARN,
            # Jobs here take seconds, not minutes: poll often so feedback is quick.
            variable("poll_seconds"): env.get(variable("poll_seconds"), "1"),
            # The provider's log tailing re-describes a training job only every 30 s, which
            # would be most of an offline run; the job's log stays in CloudWatch Logs.
            variable("stream_training_log"): env.get(variable("stream_training_log"), "false"),
            # Airflow's own configuration, read while the DAGs are parsed.
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": env.get(
                "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY", "2"
            ),
        }
    )
    return env


def ensure_airflow_db(env: dict[str, str]) -> None:
    """Migrate the SQLite metadata DB once per set of installed packages (it takes seconds)."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    stamp = home / ".migrated-for-lock"
    lock_hash = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == lock_hash and (home / "airflow.db").exists():
        return
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(lock_hash)


def aws_client(service: str, endpoint_url: str) -> Any:
    return boto3.session.Session().client(
        service, endpoint_url=endpoint_url, region_name=OFFLINE_REGION, **OFFLINE_CREDENTIALS
    )


def seed_input(endpoint_url: str, date: str, *, source: Path = ADULT_CSV) -> str:
    """Create the bucket and make ``source`` the date's raw partition, alone.

    The local account outlives each run, and preprocessing reads every CSV of the partition:
    a file seeded by an earlier run for the same date is removed, so the partition holds
    exactly what this run was given.
    """
    s3 = aws_client("s3", endpoint_url)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if OFFLINE_BUCKET not in existing:
        s3.create_bucket(Bucket=OFFLINE_BUCKET)
    partition = f"{OFFLINE_PREFIX}/raw/ds={date}/"
    key = f"{partition}{source.name}"
    listed = s3.list_objects_v2(Bucket=OFFLINE_BUCKET, Prefix=partition).get("Contents", [])
    for stale in (item["Key"] for item in listed if item["Key"] != key):
        s3.delete_object(Bucket=OFFLINE_BUCKET, Key=stale)
    s3.upload_file(str(source), OFFLINE_BUCKET, key)
    return f"s3://{OFFLINE_BUCKET}/{key}"
