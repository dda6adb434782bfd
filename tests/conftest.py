"""Test-wide environment and the shared emulator fixtures.

Airflow never touches the user's AIRFLOW_HOME or loads examples; one emulator per session is
reached through real boto3 clients (black-box tests).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import boto3
import pytest
from botocore.config import Config

from emulator.server import EmulatorServer


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = EmulatorServer(tmp_path_factory.mktemp("emulator"), port=0, max_jobs=4)
    with server:
        yield server


@pytest.fixture(scope="session")
def aws(emulator: EmulatorServer) -> Callable[[str], Any]:
    """``aws("s3")`` -> a boto3 client for that service pointed at the emulator."""
    session = boto3.session.Session()
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(
                service,
                endpoint_url=emulator.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
        return clients[service]

    return client


ROLE = "arn:aws:iam::123456789012:role/EmulatorTestRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def wait_for(describe: Callable[[], dict], key: str, timeout: float = 120) -> dict:
    """Poll a Describe* call until ``key`` leaves InProgress/Stopping."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = describe()
        if description[key] not in {"InProgress", "Stopping"}:
            return description
        time.sleep(0.05)
    raise AssertionError(f"still {description[key]} after {timeout}s")


@pytest.fixture()
def connection(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow AWS connection id for the emulator, for running provider operators."""
    import json

    extra = {"endpoint_url": emulator.url, "region_name": "us-east-1"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMULATOR_TEST",
        json.dumps({"conn_type": "aws", "login": "t", "password": "t", "extra": extra}),
    )
    return "emulator_test"


@pytest.fixture(scope="session")
def bucket(aws) -> str:
    aws("s3").create_bucket(Bucket="emulator-tests")
    return "emulator-tests"
