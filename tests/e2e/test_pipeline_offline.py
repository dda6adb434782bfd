"""The whole DAG offline, as `make run` runs it, four runs on one local account: pass, bad conf,
a second date deploying its Approved version to an endpoint, and a deferrable challenger
rejected for falling short of that champion, scored on its own test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.adult_income import names
from tests.support.offline_account import OfflineAccount
from tools.offline import OFFLINE_BUCKET, OFFLINE_ROLE_ARN

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def passed(account: OfflineAccount) -> dict:
    # deploy asked for, but the version stays PendingManualApproval: nothing is deployed
    code, summary = account.run("2026-11-01", {"deploy": True})
    assert code == 0
    return summary


def test_pass_registers_a_version_with_metrics(passed: dict, account: OfflineAccount) -> None:
    assert passed["decision"] == "registered"
    assert passed["accuracy"] >= 0.86
    assert passed["threshold"] == 0.8
    assert passed["model_package_arn"].endswith(":model-package/adult-income-xgboost/1")
    assert passed["model_name"]
    run_dir = account.run_dir(passed)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["metrics"]["accuracy"]["value"] == passed["accuracy"]
    assert (run_dir / "model.tar.gz").stat().st_size > 1000
    for key in ("input_uri", "data_uri", "model_uri", "evaluation_uri"):
        assert passed[key].startswith("s3://"), key
    assert passed["endpoint"] is None
    # the model report, rendered by the summary task, copied beside summary.json
    assert passed["report_uri"].endswith("/report/report.html")
    assert "feature_importance.png" in (run_dir / "report.html").read_text()
    assert (run_dir / "roc.png").stat().st_size > 10_000
    airflow_log = (run_dir / "airflow.log").read_text()
    assert "is PendingManualApproval, not Approved: not deploying" in airflow_log


def rendered_fields(state_dir: Path, run_id: str) -> dict[str, dict]:
    """The Rendered Template tab of each task of the run, as Airflow stored it."""
    import sqlite3

    with sqlite3.connect(state_dir / "airflow" / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields WHERE run_id = ?",
            (run_id,),
        ).fetchall()
    return {task: json.loads(fields) for task, fields in rows}


def assert_within(sent: object, held: object, path: str) -> None:
    """``sent`` is part of ``held``: the same values, ``held`` may have more members."""
    if isinstance(sent, dict):
        assert isinstance(held, dict), path
        for key, value in sent.items():
            assert key in held, f"{path}.{key} missing"
            assert_within(value, held[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(held, list) and len(sent) == len(held), path
        for index, (one, other) in enumerate(zip(sent, held, strict=True)):
            assert_within(one, other, f"{path}[{index}]")
    else:
        assert sent == held, path


def test_rendered_template_shows_the_request_each_job_sent(
    passed: dict, account: OfflineAccount
) -> None:
    rendered = rendered_fields(account.state_dir, passed["run_id"])
    # The settings the run took: its Variables, from AIRFLOW_VAR_ADULT_PIPELINE_* (make run).
    variables = rendered["prepare_run"]["op_kwargs"]["variables"]
    assert (variables["bucket"], variables["role_arn"]) == (OFFLINE_BUCKET, OFFLINE_ROLE_ARN)
    assert variables["poll_seconds"] == "1" and variables["stream_training_log"] == "false"
    assert rendered["train"]["check_interval"] == 1
    sagemaker = account.client("sagemaker")
    train = rendered["train"]["config"]
    job = sagemaker.describe_training_job(TrainingJobName=passed["training_job"])
    # Everything the task sent is what SageMaker holds (which also fills in its defaults,
    # OutputDataConfig.KmsKeyId and friends).
    for key, value in train.items():
        if key != "Tags":
            assert_within(value, job[key], key)
    assert train["RoleArn"] == OFFLINE_ROLE_ARN
    assert train["HyperParameters"]["num_round"] == "50"
    for task in ("preprocess", "evaluate"):
        config = rendered[task]["config"]
        job = sagemaker.describe_processing_job(ProcessingJobName=config["ProcessingJobName"])
        for key in ("RoleArn", "AppSpecification", "ProcessingResources"):
            assert_within(config[key], job[key], f"{task}.{key}")
        uris = [item["S3Input"]["S3Uri"] for item in job["ProcessingInputs"]]
        assert [item["S3Input"]["S3Uri"] for item in config["ProcessingInputs"]] == uris
        tags = sagemaker.list_tags(ResourceArn=job["ProcessingJobArn"])["Tags"]
        assert config["Tags"] == tags, task  # the fingerprint it was created with
        assert config["ProcessingJobName"].startswith(f"{task}-")
        assert f"s3://{OFFLINE_BUCKET}/" in json.dumps(config)
    evaluate_inputs = rendered["evaluate"]["config"]["ProcessingInputs"]
    model_input = [i["S3Input"]["S3Uri"] for i in evaluate_inputs if i["InputName"] == "model"]
    assert model_input == [passed["model_uri"]]  # the training job's real artifact
    model = rendered["create_model"]["config"]
    assert model["ModelName"] == passed["model_name"]
    described = sagemaker.describe_model(ModelName=passed["model_name"])
    assert_within(model["PrimaryContainer"], described["PrimaryContainer"], "PrimaryContainer")
    package = rendered["register_model_version"]["config"]
    registered = sagemaker.describe_model_package(ModelPackageName=passed["model_package_arn"])
    for key in ("InferenceSpecification", "ModelMetrics", "CustomerMetadataProperties"):
        assert_within(package[key], registered[key], key)


def test_bad_conf_fails_before_any_job_naming_the_field(
    account: OfflineAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = account.run("2026-11-03", {"accuracy_threshold": 2})
    assert code == 1
    assert summary is None
    err = capsys.readouterr().err
    assert "conf refused before any task ran" in err and "accuracy_threshold" in err
    airflow_log = (account.state_dir / "runs" / "latest" / "airflow.log").read_text()
    assert "start task" not in airflow_log and "end task" not in airflow_log


def test_two_dates_share_no_names_or_paths_and_approved_deploys(
    passed: dict, account: OfflineAccount
) -> None:
    conf = {"deploy": True, "model_approval_status": "Approved"}
    code, other = account.run("2026-11-04", conf)
    assert code == 0 and other["decision"] == "registered"
    # One local account across `make run`s: the emulator's state outlives each run, so the
    # second registering run adds version 2 to the group the first one created.
    assert other["model_package_arn"].endswith(":model-package/adult-income-xgboost/2")
    # Version 1 was left PendingManualApproval: the group had no champion to compare with.
    assert other["champion"] is None
    assert "no approved champion" in other["reason"]
    # created, InService on this run's endpoint config, and it scored raw input records
    assert other["endpoint"] == "adult-income-xgboost"
    assert other["endpoint_config"] == names.resource_name(
        other["dag_id"], other["run_id"], "deploy"
    )
    assert "scored 5 records" in account.airflow_log(other)
    assert other["run_id"] != passed["run_id"]
    assert other["input_uri"].endswith("/raw/ds=2026-11-04/")
    assert passed["input_uri"].endswith("/raw/ds=2026-11-01/")
    for key in ("data_uri", "model_uri", "evaluation_uri", "model_name", "training_job"):
        assert other[key] != passed[key], key


def test_a_deferrable_challenger_short_of_the_champion_is_rejected_through_triggers(
    account: OfflineAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two boosting rounds clear the 0.8 threshold but fall short of the approved version 2.
    # (A threshold's own rejection is the native pipeline's e2e run, and tests/include/test_gate.)
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    code, summary = account.run("2026-11-05", {"num_round": 2, "max_regression": 0.001})
    # Rejected: the run succeeds, and creates and registers nothing.
    assert code == 0
    assert summary["decision"] == "rejected"
    assert summary["model_package_arn"] is None and summary["model_name"] is None
    assert summary["accuracy"] >= 0.8
    assert "accuracy < champion adult-income-xgboost/2's" in summary["reason"]
    assert "max_regression 0.0010" in summary["reason"]
    # preprocess, train and evaluate each deferred to SageMakerTrigger and resumed.
    assert account.airflow_log(summary).count("running trigger in line") == 3
    # Version 2 (2026-11-04) is Approved: the champion, scored on this run's own test set.
    champion = summary["champion"]
    assert champion["model_package_arn"].endswith(":model-package/adult-income-xgboost/2")
    assert 0.85 < champion["accuracy"] < 0.9 and 0.9 < champion["roc_auc"] < 0.95
    assert champion["accuracy"] - 0.001 > summary["accuracy"]
    evaluation = json.loads((account.run_dir(summary) / "evaluation.json").read_text())
    assert evaluation["champion"]["accuracy"] == champion["accuracy"]
    assert evaluation["test_rows"]["total"] > 9000  # this run's test split, not version 2's
