"""The DAG offline, as `make run` runs it, on its other training routes: script mode
(train.py in the XGBoost framework container), and a hyperparameter tuning job whose best
training job is evaluated and registered; and the native pipeline's script-mode pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import run_offline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offline-routes")


def run(state_dir: Path, date: str, conf: dict, pipeline: str = "main") -> tuple[int, dict | None]:
    args = ["--pipeline", pipeline, "--date", date, "--conf", json.dumps(conf)]
    code = run_offline.main([*args, "--state-dir", str(state_dir)])
    summaries = [
        json.loads(path.read_text())
        for path in (state_dir / "runs").glob("*/summary.json")
        if json.loads(path.read_text())["logical_date"] == date
    ]
    return code, max(summaries, key=lambda s: s["run_id"]) if summaries else None


def airflow_log(state_dir: Path, summary: dict) -> str:
    return (
        state_dir / "runs" / run_offline.safe_dir_name(summary["run_id"]) / "airflow.log"
    ).read_text()


def test_script_mode_registers_train_py_s_model(state_dir: Path) -> None:
    code, summary = run(state_dir, "2026-11-05", {"training_mode": "script"})
    assert code == 0 and summary is not None
    assert summary["decision"] == "registered"
    assert summary["training_mode"] == "script"
    assert summary["accuracy"] >= 0.86
    assert summary["tuning_job"] is None and summary["best_training_job"] is None
    assert summary["training_job"].startswith("train-")
    log = airflow_log(state_dir, summary)
    assert "/code/sourcedir.tar.gz" in log  # the task uploaded train.py as its code archive


def test_a_tuning_run_registers_its_best_training_job(state_dir: Path) -> None:
    # Fewer jobs than the 8 (checked by hand, see the report): the route is the same.
    conf = {"tuning_max_jobs": 3, "tuning_max_parallel_jobs": 2, "tuning_strategy": "Random"}
    code, summary = run(state_dir, "2026-11-06", conf)
    assert code == 0 and summary is not None
    assert summary["decision"] == "registered"
    assert summary["accuracy"] >= 0.85
    tuning_job = summary["tuning_job"]
    assert tuning_job and tuning_job.startswith("tune-")
    best = summary["best_training_job"]
    assert best["name"] == summary["training_job"]
    assert best["name"].startswith(f"{tuning_job}-")
    assert set(best["tuned_hyperparameters"]) >= {"eta", "max_depth", "num_round"}
    assert best["hyperparameters"]["objective"] == "binary:logistic"
    assert best["hyperparameters"]["eta"] == best["tuned_hyperparameters"]["eta"]
    assert best["objective"]["metric"] == "validation:auc" and best["objective"]["value"] > 0.85
    assert best["training_jobs"]["Completed"] == 3
    # the model registered and evaluated is the best job's
    assert f"/{best['name']}/output/model.tar.gz" in summary["model_uri"]
    log = airflow_log(state_dir, summary)
    assert f"Creating tuning job {tuning_job}." in log


def test_the_native_pipeline_in_script_mode_runs_its_own_pipeline(state_dir: Path) -> None:
    code, summary = run(state_dir, "2026-11-07", {"training_mode": "script"}, pipeline="native")
    assert code == 0 and summary is not None
    assert summary["decision"] == "registered"
    assert summary["training_mode"] == "script"
    assert summary["accuracy"] >= 0.86
    assert (
        ":pipeline/adult-income-xgboost-pipeline-script/execution/"
        in (summary["pipeline_execution_arn"])
    )
    assert summary["steps"]["Train"] == "Succeeded"


def test_the_native_pipeline_tunes_in_a_tuning_step_and_registers_the_best_job(
    state_dir: Path,
) -> None:
    conf = {"tuning_max_jobs": 2, "tuning_max_parallel_jobs": 2, "tuning_strategy": "Random"}
    code, summary = run(state_dir, "2026-11-08", conf, pipeline="native")
    assert code == 0 and summary is not None
    assert summary["decision"] == "registered"
    assert summary["accuracy"] >= 0.85
    assert (
        ":pipeline/adult-income-xgboost-pipeline-tuning-random/execution/"
        in summary["pipeline_execution_arn"]
    )
    assert summary["steps"]["Tune"] == "Succeeded" and "Train" not in summary["steps"]
    best = summary["best_training_job"]
    assert summary["tuning_job"] and best["name"] == summary["training_job"]
    assert best["name"].startswith(f"{summary['tuning_job']}-")
    assert best["training_jobs"]["Completed"] == 2
    # Evaluate read the model the TuningStep's TrainingJobSummaries[0] names: the best job's
    assert summary["model_uri"].endswith(f"/{best['name']}/output/model.tar.gz")
