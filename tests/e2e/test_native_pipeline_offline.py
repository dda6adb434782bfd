"""The native-pipeline DAG offline, as `make run PIPELINE=native` runs it: the emulator executes
the SageMaker Pipeline definition; pass registers a version, threshold 0.99 registers nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from emulator.process import EmulatorProcess
from tools import run_offline
from tools.offline import aws_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("native-state")


def run(state_dir: Path, date: str, conf: dict | None = None) -> tuple[int, dict | None]:
    code = run_offline.main(
        [
            "--pipeline",
            "native",
            "--date",
            date,
            "--conf",
            json.dumps(conf or {}),
            "--state-dir",
            str(state_dir),
        ]
    )
    summaries = [
        json.loads(path.read_text())
        for path in (state_dir / "runs").glob("*/summary.json")
        if json.loads(path.read_text())["logical_date"] == date
    ]
    return code, max(summaries, key=lambda s: s["run_id"]) if summaries else None


def test_native_pipeline_registers_a_version_with_every_step_succeeded(state_dir: Path) -> None:
    code, summary = run(state_dir, "2026-11-01")
    assert code == 0
    assert summary["dag_id"] == "adult_income_native_pipeline"
    assert summary["decision"] == "registered"
    assert summary["accuracy"] >= 0.86
    assert summary["steps"] == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "AccuracyGate": "Succeeded",
        "CreateModel": "Succeeded",
        "RegisterModel": "Succeeded",
    }
    assert summary["model_package_arn"].endswith(":model-package/adult-income-xgboost/1")
    run_dir = state_dir / "runs" / run_offline.safe_dir_name(summary["run_id"])
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["metrics"]["accuracy"]["value"] == summary["accuracy"]
    log = (run_dir / "airflow.log").read_text()
    assert "pipeline adult-income-xgboost-pipeline: created" in log
    assert (run_dir / "report.html").exists() and (run_dir / "calibration.png").exists()


def test_threshold_099_takes_the_else_branch_and_registers_nothing(state_dir: Path) -> None:
    code, summary = run(state_dir, "2026-11-02", {"accuracy_threshold": 0.99})
    # The execution started with the parameters the run planned, as start_pipeline's
    # Rendered Template tab shows them.
    with sqlite3.connect(state_dir / "airflow" / "airflow.db") as db:
        (fields,) = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields "
            "WHERE run_id = ? AND task_id = 'start_pipeline'",
            (summary["run_id"],),
        ).fetchone()
    shown = json.loads(fields)["pipeline_params"]
    assert shown["AccuracyThreshold"] == "0.99"
    with EmulatorProcess(state_dir / "emulator", log_path=state_dir / "inspect.log") as emulator:
        started = aws_client("sagemaker", emulator.url).list_pipeline_parameters_for_execution(
            PipelineExecutionArn=summary["pipeline_execution_arn"]
        )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in started} == shown
    assert code == 0
    assert summary["decision"] == "rejected"
    assert summary["model_package_arn"] is None and summary["model_name"] is None
    assert "RegisterModel" not in summary["steps"] and "CreateModel" not in summary["steps"]
    assert summary["steps"]["AccuracyGate"] == "Succeeded"
    # the evaluation that decided it is still reported, with its charts
    run_dir = state_dir / "runs" / run_offline.safe_dir_name(summary["run_id"])
    assert summary["accuracy"] < 0.99 and (run_dir / "report.html").exists()
