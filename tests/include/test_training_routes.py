"""The run's training route as prepare_run plans it: the built-in algorithm or script mode, one
training job or a tuning job, every request valid for botocore; and the builders that bind the
tuning job's best training job for evaluate, the gate and registration."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from include.adult_income import names, operators, sagemaker_requests, tasks, tuning_requests
from include.adult_income.params import pipeline_params
from tests.include.test_tasks import VARIABLES, PlannedTaskInstance

RUN_ID = "scheduled__2026-11-20T00:00:00+00:00"


def plan_for(**conf: Any) -> dict[str, Any]:
    params = {key: param.value for key, param in pipeline_params().items()}
    params.update(conf)
    context = {
        "dag": SimpleNamespace(dag_id="adult_income_pipeline"),
        "run_id": RUN_ID,
        "ds": "2026-11-20",
        "params": params,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "current_champion", lambda context, config: None)
        return tasks.prepare_run(VARIABLES, **context)


def assert_valid(request: dict[str, Any], operation: str) -> None:
    body = {k: v for k, v in request.items() if k != "S3Operations"}
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(body, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_default_run_trains_once_with_the_builtin_algorithm() -> None:
    plan = plan_for()
    assert plan["requests"]["tune"] is None
    train = plan["requests"]["train"]
    assert "sagemaker_program" not in train["HyperParameters"]
    assert "MetricDefinitions" not in train["AlgorithmSpecification"]
    assert "S3Operations" not in train
    ti = PlannedTaskInstance({("prepare_run", "return_value"): plan})
    assert tasks.train_or_tune(ti=ti, params={"tuning_max_jobs": 0}) == ["train"]


def test_script_mode_runs_train_py_from_the_archive_the_task_uploads() -> None:
    plan = plan_for(training_mode="script", num_round=60)
    train = plan["requests"]["train"]
    assert_valid(train, "CreateTrainingJob")
    code_uri = f"{plan['layout']['run_uri']}/code"
    hyperparameters = train["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "train.py"
    assert json.loads(hyperparameters["sagemaker_submit_directory"]) == (
        f"{code_uri}/sourcedir.tar.gz"
    )
    # the same hyperparameters as the built-in route, JSON-encoded as the SDK sends them
    assert json.loads(hyperparameters["num_round"]) == "60"
    assert json.loads(hyperparameters["objective"]) == "binary:logistic"
    # the same image: the XGBoost 1.7-1 container is the algorithm and the framework
    builtin = plan_for()["requests"]["train"]
    assert (
        train["AlgorithmSpecification"]["TrainingImage"]
        == (builtin["AlgorithmSpecification"]["TrainingImage"])
    )
    names_defined = [d["Name"] for d in train["AlgorithmSpecification"]["MetricDefinitions"]]
    assert {"validation:auc", "validation:logloss", "train:logloss"} <= set(names_defined)
    (upload,) = train["S3Operations"]["S3Upload"]
    assert upload["Tar"] is True
    assert Path(upload["Path"]) == tasks.SCRIPTS_DIR / "train.py"
    assert f"s3://{upload['Bucket']}/{upload['Key']}" == f"{code_uri}/sourcedir.tar.gz"
    # the fingerprint covers the archive: editing train.py and clearing train runs it again
    assert f"{code_uri}/sourcedir.tar.gz" in operators.input_uris(train)


def test_metric_definitions_read_the_lines_train_py_prints() -> None:
    # CloudWatch shows the tabs of "[3]\ttrain-logloss:0.41\tvalidation-auc:0.91" as #011.
    import re

    line = "[3]#011train-logloss:0.41#011validation-logloss:0.42#011validation-auc:0.91"
    found = {}
    for definition in tuning_requests.METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    assert found == {"train:logloss": 0.41, "validation:logloss": 0.42, "validation:auc": 0.91}


@pytest.mark.parametrize("mode", sagemaker_requests.TRAINING_MODES)
@pytest.mark.parametrize("strategy", tuning_requests.STRATEGIES)
def test_a_tuning_run_plans_a_valid_tuning_job_of_the_training_job(
    mode: str, strategy: str
) -> None:
    plan = plan_for(
        training_mode=mode,
        tuning_max_jobs=8,
        tuning_max_parallel_jobs=2,
        tuning_strategy=strategy,
        tuning_objective="validation:logloss",
    )
    tune = plan["requests"]["tune"]
    assert_valid(tune, "CreateHyperParameterTuningJob")
    train = plan["requests"]["train"]
    name = tune["HyperParameterTuningJobName"]
    assert name == names.resource_name("adult_income_pipeline", RUN_ID, "tune")
    # SageMaker's limit for tuning job names, with room for the attempts
    assert len(operators.attempt_name(name, operators.MAX_ATTEMPTS)) <= 32
    config = tune["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == strategy
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:logloss",
    }
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 2
    assert config["ResourceLimits"].get("MaxNumberOfTrainingJobs") == (
        None if strategy == "Grid" else 8
    )
    assert config["RandomSeed"] == 42
    definition = tune["TrainingJobDefinition"]
    assert definition["InputDataConfig"] == train["InputDataConfig"]
    assert definition["OutputDataConfig"] == train["OutputDataConfig"]
    static = definition["StaticHyperParameters"]
    assert not set(static) & tuning_requests.tuned_names(config["ParameterRanges"])
    if mode == "script":
        assert definition["AlgorithmSpecification"]["MetricDefinitions"]
        assert tune["S3Operations"] == train["S3Operations"]
        assert json.loads(static["sagemaker_submit_directory"]).endswith("/sourcedir.tar.gz")
        code = json.loads(static["sagemaker_submit_directory"])
        assert code in operators.input_uris(tune)
    else:
        assert "S3Operations" not in tune
    # the training channels are inputs of the tuning job's fingerprint
    for channel in train["InputDataConfig"]:
        assert channel["DataSource"]["S3DataSource"]["S3Uri"] in operators.input_uris(tune)
    ti = PlannedTaskInstance({("prepare_run", "return_value"): plan})
    assert tasks.train_or_tune(ti=ti, params={"tuning_max_jobs": 8}) == ["tune"]


def test_no_more_jobs_run_at_once_than_in_all() -> None:
    tune = plan_for(tuning_max_jobs=1, tuning_max_parallel_jobs=4)["requests"]["tune"]
    limits = tune["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits == {"MaxParallelTrainingJobs": 1, "MaxNumberOfTrainingJobs": 1}


BEST_JOB = "tune-20261120-0123456789-003-9f8e7d6c"


def tuned_context(plan: dict[str, Any]) -> dict[str, Any]:
    artifact = f"{plan['layout']['run_uri']}/model/{BEST_JOB}/output/model.tar.gz"
    tuning = {
        "HyperParameterTuningJobName": plan["requests"]["tune"]["HyperParameterTuningJobName"],
        "HyperParameterTuningJobStatus": "Completed",
        "HyperParameterTuningJobConfig": plan["requests"]["tune"]["HyperParameterTuningJobConfig"],
        "BestTrainingJob": {
            "TrainingJobName": BEST_JOB,
            "TunedHyperParameters": {"eta": "0.071", "max_depth": "6"},
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": "validation:auc",
                "Value": 0.9312,
            },
        },
        "TrainingJobStatusCounters": {"Completed": 4, "Stopped": 0},
    }
    training = {
        "TrainingJobName": BEST_JOB,
        "ModelArtifacts": {"S3ModelArtifacts": artifact},
        "HyperParameters": {
            "eta": "0.071",
            "max_depth": "6",
            "objective": json.dumps("binary:logistic"),
            "sagemaker_program": json.dumps("train.py"),
            "_tuning_objective_metric": "validation:auc",
        },
    }
    ti = PlannedTaskInstance(
        {
            ("prepare_run", "return_value"): plan,
            ("tune", "return_value"): {"Tuning": tuning, "Training": training},
            ("accuracy_gate", "gate"): {"accuracy": 0.8731},
        }
    )
    return {"ti": ti}


def test_evaluate_the_model_and_the_version_read_the_best_training_job() -> None:
    plan = plan_for(training_mode="script", tuning_max_jobs=4)
    context = tuned_context(plan)
    artifact = f"{plan['layout']['run_uri']}/model/{BEST_JOB}/output/model.tar.gz"
    planned = plan["requests"]
    evaluate = tasks.evaluate_config(planned["evaluate"], context, "evaluate-x")
    model_input = [i for i in evaluate["ProcessingInputs"] if i["InputName"] == "model"]
    assert [i["S3Input"]["S3Uri"] for i in model_input] == [artifact]
    model = tasks.model_config(planned["create_model"], context, "model-x")
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifact
    package = tasks.model_package_config(planned["register_model_version"], context)
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifact
    metadata = package["CustomerMetadataProperties"]
    assert metadata["training_job"] == BEST_JOB
    assert metadata["tuning_job"] == planned["tune"]["HyperParameterTuningJobName"]


def test_the_summary_names_the_tuning_job_and_the_best_job_with_its_hyperparameters() -> None:
    plan = plan_for(training_mode="script", tuning_max_jobs=4)
    route = tasks.training_result(tuned_context(plan))
    best = tasks.tuning_summary(route["Tuning"], route["Training"])
    assert best == {
        "name": BEST_JOB,
        "hyperparameters": {"eta": "0.071", "max_depth": "6", "objective": "binary:logistic"},
        "tuned_hyperparameters": {"eta": "0.071", "max_depth": "6"},
        "objective": {"metric": "validation:auc", "type": "Maximize", "value": 0.9312},
        "training_jobs": {"Completed": 4, "Stopped": 0},
    }
    assert tasks.tuning_summary(None, {}) is None


def test_the_code_archive_depends_on_the_script_only(tmp_path: Path) -> None:
    import os

    script = tmp_path / "train.py"
    script.write_text("print('hello')\n")
    first = operators.reproducible_tar(str(script))
    os.utime(script, (1, 1))  # touched, same bytes: the same archive, so the same ETag
    assert operators.reproducible_tar(str(script)) == first
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as archive:
        assert archive.getnames() == ["train.py"]
        member = archive.extractfile("train.py")
        assert member is not None and member.read() == b"print('hello')\n"
    script.write_text("print('changed')\n")
    assert operators.reproducible_tar(str(script)) != first


def test_the_native_pipeline_has_one_pipeline_per_training_mode() -> None:
    from include.adult_income import native_tasks

    assert native_tasks.pipeline_name_for("builtin") == native_tasks.PIPELINE_NAME
    assert native_tasks.pipeline_name_for("script") == f"{native_tasks.PIPELINE_NAME}-script"
    assert native_tasks.planned_pipeline({}) == (native_tasks.PIPELINE_NAME, "builtin")
    # train.py is part of the definition's code address: editing it makes a new definition
    assert "train.py" in native_tasks.DIGESTED


@pytest.mark.parametrize(("strategy", "rounds"), [("Bayesian", 4), ("Grid", 5)])
def test_a_tuning_wait_is_bounded_per_round_of_parallel_jobs(strategy: str, rounds: int) -> None:
    tune = plan_for(tuning_max_jobs=8, tuning_max_parallel_jobs=2, tuning_strategy=strategy)
    request = tune["requests"]["tune"]
    waiting = operators.AttachOrCreateTuningOperator(task_id="tune", config=request)
    # 8 jobs two at a time, or Grid's 3 x 3 = 9 two at a time
    assert waiting.max_wait() == rounds * operators.DEFAULT_MAX_WAIT_SECONDS
    bounded = operators.AttachOrCreateTuningOperator(
        task_id="tune", config=request, max_ingestion_time=600
    )
    assert bounded.max_wait() == 600
