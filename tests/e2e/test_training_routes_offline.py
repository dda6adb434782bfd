"""The DAG offline, as `make run` runs it, on its other training routes: a hyperparameter tuning
job of script-mode training jobs (train.py in the XGBoost framework container, its objective
read from their logs by the metric definitions), whose best training job is evaluated and
registered. The native pipeline's script-mode route is in test_native_pipeline_offline.py."""

from __future__ import annotations

import pytest

from tests.support.offline_account import SCRIPT_MODE_TUNING, OfflineAccount

pytestmark = pytest.mark.e2e


def test_a_tuning_run_of_script_mode_jobs_registers_its_best_training_job(
    account: OfflineAccount,
) -> None:
    code, summary = account.run("2026-11-06", SCRIPT_MODE_TUNING)
    assert code == 0 and summary is not None
    assert summary["decision"] == "registered"
    assert summary["training_mode"] == "script"
    assert summary["accuracy"] >= 0.85
    tuning_job = summary["tuning_job"]
    assert tuning_job and tuning_job.startswith("tune-")
    best = summary["best_training_job"]
    assert best["name"] == summary["training_job"]
    assert best["name"].startswith(f"{tuning_job}-")
    assert set(best["tuned_hyperparameters"]) >= {"eta", "max_depth", "num_round"}
    # summary.json decodes script mode's JSON-encoded values and leaves SageMaker's own out.
    assert best["hyperparameters"]["objective"] == "binary:logistic"
    assert not any(key.startswith("sagemaker_") for key in best["hyperparameters"])
    assert best["hyperparameters"]["eta"] == best["tuned_hyperparameters"]["eta"]
    # The objective came from train.py's log, through the metric definitions' regexes.
    assert best["objective"]["metric"] == "validation:auc" and best["objective"]["value"] > 0.85
    assert best["training_jobs"]["Completed"] == 2
    # the model registered and evaluated is the best job's
    assert f"/{best['name']}/output/model.tar.gz" in summary["model_uri"]
    log = account.airflow_log(summary)
    assert f"Creating tuning job {tuning_job}." in log
    assert "/code/sourcedir.tar.gz" in log  # the task uploaded train.py as its code archive
