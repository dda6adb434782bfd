"""The whole DAG offline, as `make run` runs it: pass, reject, bad conf, two dates (the second
deploying its Approved version to an endpoint), deferrable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.process import EmulatorProcess
from include.adult_income import names
from tools import run_offline
from tools.offline import OFFLINE_BUCKET, OFFLINE_ROLE_ARN, aws_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One Airflow DB for the module: migrating it once saves seconds per run.
    return tmp_path_factory.mktemp("offline-state")


def run(state_dir: Path, date: str, conf: dict | None = None) -> tuple[int, dict | None]:
    code = run_offline.main(
        ["--date", date, "--conf", json.dumps(conf or {}), "--state-dir", str(state_dir)]
    )
    summaries = [
        json.loads(path.read_text())
        for path in (state_dir / "runs").glob("*/summary.json")
        if json.loads(path.read_text())["logical_date"] == date
    ]
    return code, max(summaries, key=lambda s: s["run_id"]) if summaries else None


@pytest.fixture(scope="module")
def passed(state_dir: Path) -> dict:
    # deploy asked for, but the version stays PendingManualApproval: nothing is deployed
    code, summary = run(state_dir, "2026-11-01", {"deploy": True})
    assert code == 0
    return summary


def test_pass_registers_a_version_with_metrics(passed: dict, state_dir: Path) -> None:
    assert passed["decision"] == "registered"
    assert passed["accuracy"] >= 0.86
    assert passed["threshold"] == 0.8
    assert passed["model_package_arn"].endswith(":model-package/adult-income-xgboost/1")
    assert passed["model_name"]
    run_dir = state_dir / "runs" / run_offline.safe_dir_name(passed["run_id"])
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


def test_rendered_template_shows_the_request_each_job_sent(passed: dict, state_dir: Path) -> None:
    rendered = rendered_fields(state_dir, passed["run_id"])
    # The settings the run took: its Variables, from AIRFLOW_VAR_ADULT_PIPELINE_* (make run).
    variables = rendered["prepare_run"]["op_kwargs"]["variables"]
    assert (variables["bucket"], variables["role_arn"]) == (OFFLINE_BUCKET, OFFLINE_ROLE_ARN)
    assert variables["poll_seconds"] == "1" and variables["stream_training_log"] == "false"
    assert rendered["train"]["check_interval"] == 1
    with EmulatorProcess(state_dir / "emulator", log_path=state_dir / "inspect.log") as emulator:
        sagemaker = aws_client("sagemaker", emulator.url)
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
                assert config[key] == job[key], (task, key)
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
        assert model["PrimaryContainer"] == described["PrimaryContainer"]
        package = rendered["register_model_version"]["config"]
        registered = sagemaker.describe_model_package(ModelPackageName=passed["model_package_arn"])
        for key in ("InferenceSpecification", "ModelMetrics", "CustomerMetadataProperties"):
            assert package[key] == registered[key], key


def test_threshold_above_accuracy_rejects_and_registers_nothing(state_dir: Path) -> None:
    code, summary = run(state_dir, "2026-11-02", {"accuracy_threshold": 0.99})
    assert code == 0
    assert summary["decision"] == "rejected"
    assert summary["model_package_arn"] is None and summary["model_name"] is None
    assert "< threshold 0.9900" in summary["reason"]


def test_bad_conf_fails_before_any_job_naming_the_field(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = run(state_dir, "2026-11-03", {"accuracy_threshold": 2})
    assert code == 1
    assert summary is None
    err = capsys.readouterr().err
    assert "conf refused before any task ran" in err and "accuracy_threshold" in err
    airflow_log = (state_dir / "runs" / "latest" / "airflow.log").read_text()
    assert "start task" not in airflow_log and "end task" not in airflow_log


def test_two_dates_share_no_names_or_paths_and_approved_deploys(
    passed: dict, state_dir: Path
) -> None:
    conf = {"deploy": True, "model_approval_status": "Approved"}
    code, other = run(state_dir, "2026-11-04", conf)
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
    run_dir = state_dir / "runs" / run_offline.safe_dir_name(other["run_id"])
    assert "scored 5 records" in (run_dir / "airflow.log").read_text()
    assert other["run_id"] != passed["run_id"]
    assert other["input_uri"].endswith("/raw/ds=2026-11-04/")
    assert passed["input_uri"].endswith("/raw/ds=2026-11-01/")
    for key in ("data_uri", "model_uri", "evaluation_uri", "model_name", "training_job"):
        assert other[key] != passed[key], key


def test_deferrable_mode_run_completes_through_triggers(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    code, summary = run(state_dir, "2026-11-05")
    assert code == 0 and summary["decision"] == "registered"
    log = state_dir / "runs" / run_offline.safe_dir_name(summary["run_id"]) / "airflow.log"
    # preprocess, train and evaluate each deferred to SageMakerTrigger and resumed.
    assert log.read_text().count("running trigger in line") == 3
    # Version 2 (2026-11-04) is Approved: the champion, scored on this run's own test set.
    champion = summary["champion"]
    assert champion["model_package_arn"].endswith(":model-package/adult-income-xgboost/2")
    assert 0.85 < champion["accuracy"] < 0.9 and 0.9 < champion["roc_auc"] < 0.95
    evaluation = json.loads((log.parent / "evaluation.json").read_text())
    assert evaluation["champion"]["accuracy"] == champion["accuracy"]
    assert evaluation["test_rows"]["total"] > 9000  # this run's test split, not version 2's
    assert "adult-income-xgboost/2's" in summary["reason"]


def test_a_challenger_worse_than_the_champion_is_rejected_naming_it(state_dir: Path) -> None:
    # Two boosting rounds clear the 0.8 threshold but fall short of the approved version 2.
    code, summary = run(state_dir, "2026-11-06", {"num_round": 2, "max_regression": 0.001})
    assert code == 0
    assert summary["decision"] == "rejected"
    assert summary["model_package_arn"] is None
    assert summary["accuracy"] >= 0.8
    assert summary["champion"]["accuracy"] - 0.001 > summary["accuracy"]
    assert "accuracy < champion adult-income-xgboost/2's" in summary["reason"]
    assert "max_regression 0.0010" in summary["reason"]
