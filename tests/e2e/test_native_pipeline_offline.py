"""The native-pipeline DAG offline, as `make run PIPELINE=native` runs it: the emulator executes
the SageMaker Pipeline definition; pass registers a version; the script-mode tuning pipeline
with threshold 0.99 tunes train.py's jobs in a TuningStep, evaluates the best job's model, takes
the else branch and registers nothing (the model steps' reading of a Tuning step's top model is
tests/emulator/test_pipelines.py's)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.support.offline_account import SCRIPT_MODE_TUNING, OfflineAccount

pytestmark = pytest.mark.e2e


def test_native_pipeline_registers_a_version_with_every_step_succeeded(
    account: OfflineAccount,
) -> None:
    code, summary = account.run("2026-11-01", pipeline="native")
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
    run_dir = account.run_dir(summary)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["metrics"]["accuracy"]["value"] == summary["accuracy"]
    log = (run_dir / "airflow.log").read_text()
    assert "pipeline adult-income-xgboost-pipeline: created" in log
    assert (run_dir / "report.html").exists() and (run_dir / "calibration.png").exists()


def test_a_script_mode_tuning_step_below_threshold_099_takes_the_else_branch(
    account: OfflineAccount,
) -> None:
    conf = {**SCRIPT_MODE_TUNING, "accuracy_threshold": 0.99}
    code, summary = account.run("2026-11-02", conf, pipeline="native")
    # The execution started with the parameters the run planned, as start_pipeline's
    # Rendered Template tab shows them.
    with sqlite3.connect(account.state_dir / "airflow" / "airflow.db") as db:
        (fields,) = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields "
            "WHERE run_id = ? AND task_id = 'start_pipeline'",
            (summary["run_id"],),
        ).fetchone()
    shown = json.loads(fields)["pipeline_params"]
    assert shown["AccuracyThreshold"] == "0.99"
    started = account.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=summary["pipeline_execution_arn"]
    )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in started} == shown
    assert code == 0
    assert summary["decision"] == "rejected"
    assert summary["model_package_arn"] is None and summary["model_name"] is None
    assert "RegisterModel" not in summary["steps"] and "CreateModel" not in summary["steps"]
    assert summary["steps"]["AccuracyGate"] == "Succeeded"
    # Script mode with tuning is a pipeline of its own, whose Tune step (a TuningStep) ran a
    # tuning job of train.py's training jobs in Train's place.
    assert summary["training_mode"] == "script"
    assert (
        ":pipeline/adult-income-xgboost-pipeline-script-tuning-random/execution/"
        in summary["pipeline_execution_arn"]
    )
    assert summary["steps"]["Tune"] == "Succeeded" and "Train" not in summary["steps"]
    best = summary["best_training_job"]
    assert summary["tuning_job"] and best["name"] == summary["training_job"]
    assert best["name"].startswith(f"{summary['tuning_job']}-")
    assert best["training_jobs"]["Completed"] == 2
    # Evaluate read the model the Tune step's TrainingJobSummaries[0] names: the best job's
    assert summary["model_uri"].endswith(f"/{best['name']}/output/model.tar.gz")
    # the evaluation that decided it is still reported, with its charts
    assert 0.85 <= summary["accuracy"] < 0.99
    assert (account.run_dir(summary) / "report.html").exists()
