"""Fixtures for the model-registry plugin: Airflow's metadata DB and real auth manager, and model
versions registered in the in-process emulator exactly as the DAG registers them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from include.adult_income import names, sagemaker_requests
from tests.conftest import ROLE, XGBOOST_IMAGE

# The simple auth manager's users: one per role that matters to the page.
USERS = {"admin": "admin", "editor": "user", "reader": "viewer"}


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Migrate the test session's Airflow DB (AIRFLOW_HOME is a temporary folder): the auth
    checks look a DAG's team up there and the token validator reads revoked tokens."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ.copy(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def token_for(airflow_db: None) -> Callable[[str], str]:
    """``token_for("editor")`` -> a JWT the API server would accept for that user."""
    os.environ["AIRFLOW__CORE__AUTH_MANAGER"] = (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(
        f"{name}:{role}" for name, role in USERS.items()
    )
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
    # A key of SHA-512's block size: the unit-test config's short one draws a warning.
    os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = uuid.uuid4().hex * 2
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = init_auth_manager()

    def token(name: str) -> str:
        return manager.generate_jwt(SimpleAuthManagerUser(username=name, role=USERS[name]))

    return token


@dataclass(frozen=True)
class Registered:
    group: str
    bucket: str
    prefix: str
    arns: list[str]
    runs: list[tuple[str, str]]  # (dag_id, run_id) per version


def evaluation(accuracy: float, roc_auc: float, champion: dict | None) -> dict[str, Any]:
    """An evaluation.json in evaluate.py's layout (metrics.<name>.value)."""
    document: dict[str, Any] = {
        "metrics": {
            "accuracy": {"value": accuracy},
            "roc_auc": {"value": roc_auc},
            "row_count": {"value": 9000},
        },
        "test_rows": {"total": 9000, "positive": 2100, "negative": 6900},
    }
    if champion is not None:
        document["champion"] = champion
    return document


def register_version(
    aws: Callable[[str], Any],
    bucket: str,
    prefix: str,
    *,
    group: str,
    dag_id: str,
    run_id: str,
    accuracy: float,
    roc_auc: float,
    status: str = "PendingManualApproval",
    champion: dict | None = None,
) -> str:
    """What one passing DAG run leaves behind: evaluation.json, report, summary.json under its
    run prefix, and a version whose request is built by the DAG's own builder."""
    s3 = aws("s3")
    run_uri = f"s3://{bucket}/{prefix}/{names.run_path(dag_id, run_id)}"
    run_key = run_uri.removeprefix(f"s3://{bucket}/")
    layout = sagemaker_requests.RunLayout(input_uri=f"s3://{bucket}/{prefix}/raw/", run_uri=run_uri)
    s3.put_object(
        Bucket=bucket,
        Key=f"{run_key}/evaluation/evaluation.json",
        Body=json.dumps(evaluation(accuracy, roc_auc, champion)).encode(),
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"{run_key}/report/report.html",
        Body=f"<html><body><h1>Report of {run_id}</h1><img src='roc.png'></body></html>".encode(),
    )
    s3.put_object(Bucket=bucket, Key=f"{run_key}/report/roc.png", Body=b"\x89PNG\r\n\x1a\n")
    training_job = names.resource_name(dag_id, run_id, "train")
    request = sagemaker_requests.model_package_request(
        group_name=group,
        image_uri=XGBOOST_IMAGE,
        model_data_url=f"{layout.model_output_uri}/{training_job}/output/model.tar.gz",
        code_uri=layout.inference_code_uri,
        evaluation_json_uri=f"{layout.evaluation_uri}/evaluation.json",
        approval_status=status,
        metadata={
            "dag_id": dag_id,
            "run_id": run_id,
            "training_job": training_job,
            "accuracy": f"{accuracy:.6f}",
            "report": f"{layout.report_uri}/report.html",
        },
        description=f"XGBoost on UCI Adult, {run_id}",
    )
    arn = aws("sagemaker").create_model_package(**request)["ModelPackageArn"]
    summary = {
        "dag_id": dag_id,
        "run_id": run_id,
        "decision": "registered",
        "reason": f"accuracy {accuracy:.4f} >= threshold 0.8000",
        "accuracy": accuracy,
        "threshold": 0.8,
        "model_package_arn": arn,
        "training_job": training_job,
        "endpoint": None,
        "report_uri": f"{layout.report_uri}/report.html",
        "failed_tasks": [],
    }
    if champion is not None:
        summary["champion"] = champion
    s3.put_object(Bucket=bucket, Key=f"{run_key}/summary.json", Body=json.dumps(summary).encode())
    return arn


@pytest.fixture()
def registered(aws: Callable[[str], Any], bucket: str) -> Iterator[Registered]:
    """A group of its own with two versions from two runs of the DAG: version 1 Approved (the
    champion), version 2 pending, with the champion measured on run 2's test set."""
    group = f"plugin-test-{uuid.uuid4().hex[:8]}"
    prefix = f"plugin-{group}"
    aws("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    dag_id = "adult_income_pipeline"
    runs = [
        (dag_id, "manual__2026-11-01T06:00:00+00:00"),
        (dag_id, "scheduled__2026-11-02T00:00:00+00:00"),
    ]
    first = register_version(
        aws, bucket, prefix, group=group, dag_id=dag_id, run_id=runs[0][1],
        accuracy=0.8712, roc_auc=0.9251, status="Approved",
    )  # fmt: skip
    second = register_version(
        aws, bucket, prefix, group=group, dag_id=dag_id, run_id=runs[1][1],
        accuracy=0.8734, roc_auc=0.9266,
        champion={"model_package_arn": first, "accuracy": 0.8701, "roc_auc": 0.9240},
    )  # fmt: skip
    yield Registered(group=group, bucket=bucket, prefix=prefix, arns=[first, second], runs=runs)


@pytest.fixture()
def location(registered: Registered) -> Any:
    from model_registry import registry

    return registry.Location(
        aws_conn_id="unused", region="us-east-1", bucket=registered.bucket, prefix=registered.prefix
    )


@pytest.fixture()
def client(aws: Callable[[str], Any], location: Any, token_for: Callable[[str], str]) -> Any:
    """A TestClient on the plugin's app, its registry on the emulator's clients; requests carry
    no credential unless a test adds one."""
    from fastapi.testclient import TestClient
    from model_registry import registry
    from model_registry.app import create_app

    app = create_app(lambda: registry.Registry(aws("sagemaker"), aws("s3"), location))
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["ROLE", "Registered", "bearer", "register_version"]
