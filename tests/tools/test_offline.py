"""tools/offline.py: the environment that points Airflow at the emulator, the input partition a
run reads, and a metadata DB migrated once per lock."""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from pathlib import Path

import pytest
from airflow.models.connection import Connection

from emulator.server import EmulatorServer
from include.adult_income.settings import environment_variable
from tools import offline


def test_the_connection_is_read_by_airflow_as_one_that_reaches_the_emulator() -> None:
    uri = offline.connection_uri_json("http://127.0.0.1:4566")
    connection = Connection.from_json(uri, conn_id=offline.OFFLINE_CONN_ID)
    assert connection.conn_type == "aws"
    assert connection.extra_dejson == {
        "region_name": offline.OFFLINE_REGION,
        "endpoint_url": "http://127.0.0.1:4566",
    }
    assert (connection.login, connection.password) == ("emulator", "emulator")


def test_the_environment_points_every_client_at_the_emulator(tmp_path: Path) -> None:
    env = offline.offline_environment("http://127.0.0.1:4566", tmp_path / "airflow")
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(offline.ROOT / "dags")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env[f"AIRFLOW_CONN_{offline.OFFLINE_CONN_ID.upper()}"] == offline.connection_uri_json(
        "http://127.0.0.1:4566"
    )
    assert env[environment_variable("bucket")] == offline.OFFLINE_BUCKET
    # Airflow starts its components as `airflow ...`: this interpreter's must be found first.
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(offline.ROOT)


def test_a_callers_own_settings_win_where_the_environment_has_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(environment_variable("poll_seconds"), "7")
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY", "30")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = offline.offline_environment("http://127.0.0.1:4566", tmp_path)
    assert env[environment_variable("poll_seconds")] == "7"
    assert env["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"] == "30"
    assert env["PYTHONPATH"] == os.pathsep.join([str(offline.ROOT), "/elsewhere"])


def test_the_partition_holds_exactly_the_input_of_the_last_seeding(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    date = f"2026-11-{uuid.uuid4().hex[:6]}"  # a partition of this test's own
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("age,label\n30,1\n")
    second.write_text("age,label\n40,0\n")
    partition = f"{offline.OFFLINE_PREFIX}/raw/ds={date}/"
    assert offline.seed_input(emulator.url, date, source=first) == (
        f"s3://{offline.OFFLINE_BUCKET}/{partition}first.csv"
    )
    offline.seed_input(emulator.url, date, source=second)  # the bucket exists by now
    s3 = offline.aws_client("s3", emulator.url)
    listed = s3.list_objects_v2(Bucket=offline.OFFLINE_BUCKET, Prefix=partition)["Contents"]
    assert [item["Key"] for item in listed] == [f"{partition}second.csv"]
    body = s3.get_object(Bucket=offline.OFFLINE_BUCKET, Key=f"{partition}second.csv")["Body"]
    assert body.read() == second.read_bytes()


@pytest.fixture()
def recording_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sys.executable replaced by a script that writes its arguments to a file and creates
    airflow.db, as `airflow db migrate` does: the file it returns lists each call."""
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\ntouch "$AIRFLOW_HOME/airflow.db"\n', encoding="utf-8"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(offline.sys, "executable", str(fake))
    return calls


def lock_hash() -> str:
    return hashlib.sha256((offline.ROOT / "requirements.lock").read_bytes()).hexdigest()


def test_the_db_is_migrated_once_per_lock(recording_python: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"AIRFLOW_HOME": str(home), "PATH": os.environ["PATH"]}
    offline.ensure_airflow_db(env)
    assert recording_python.read_text() == "-m airflow db migrate\n"
    assert (home / ".migrated-for-lock").read_text() == lock_hash()
    offline.ensure_airflow_db(env)
    assert recording_python.read_text() == "-m airflow db migrate\n"


@pytest.mark.parametrize("stale", ["another lock's hash", "no database"])
def test_the_db_is_migrated_again_for_another_lock_or_a_lost_database(
    recording_python: Path, tmp_path: Path, stale: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    stamp = home / ".migrated-for-lock"
    if stale == "no database":
        stamp.write_text(lock_hash())
    else:
        stamp.write_text("0" * 64)
        (home / "airflow.db").touch()
    offline.ensure_airflow_db({"AIRFLOW_HOME": str(home), "PATH": os.environ["PATH"]})
    assert recording_python.read_text() == "-m airflow db migrate\n"
    assert stamp.read_text() == lock_hash()
