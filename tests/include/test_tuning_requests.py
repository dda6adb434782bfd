"""tuning_requests.py: CreateHyperParameterTuningJob bodies valid for botocore's service model
and for what SageMaker (and so the emulator) checks, in both training modes."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from emulator.sagemaker import tuning_jobs
from include.adult_income import tuning_requests
from tests.conftest import DAG_DEFAULT_HYPERPARAMETERS as DEFAULT_HYPERPARAMETERS
from tests.scripts.conftest import load_script

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
SCRIPT_HYPERPARAMETERS = {
    **{key: json.dumps(value) for key, value in DEFAULT_HYPERPARAMETERS.items()},
    "sagemaker_program": json.dumps("train.py"),
    "sagemaker_submit_directory": json.dumps("s3://bucket-x/run/code/sourcedir.tar.gz"),
}


def training_body(hyperparameters: dict[str, str]) -> dict:
    """A CreateTrainingJob body as the DAG's train task sends it."""
    return {
        "TrainingJobName": "adult-income-train",
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://bucket-x/run/data/{channel}",
                    }
                },
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket-x/run/models"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


CASES = [
    (strategy, mode) for strategy in tuning_requests.STRATEGIES for mode in ("builtin", "script")
]


def build(strategy: str, mode: str, **extra) -> dict:
    hyperparameters = DEFAULT_HYPERPARAMETERS if mode == "builtin" else SCRIPT_HYPERPARAMETERS
    return tuning_requests.tuning_job_request(
        tuning_job_name="adult-income-tune-a1",
        training_request=training_body(hyperparameters),
        max_jobs=8,
        max_parallel_jobs=2,
        strategy=strategy,
        **extra,
    )


@pytest.mark.parametrize(("strategy", "mode"), CASES)
def test_the_body_is_valid_for_botocore(strategy: str, mode: str) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(build(strategy, mode, seed=3), shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize(("strategy", "mode"), CASES)
def test_the_body_passes_what_sagemaker_checks(strategy: str, mode: str) -> None:
    """The emulator's checks of CreateHyperParameterTuningJob (SageMaker's documented ones)."""
    body = build(strategy, mode)
    config, definition = body["HyperParameterTuningJobConfig"], body["TrainingJobDefinition"]
    plan = tuning_jobs.plan_for(config, definition)
    tuning_jobs.check_objective_metric(plan, definition)
    tuned = {r.name for r in plan.ranges}
    assert not tuned & set(definition["StaticHyperParameters"])
    if strategy == "Grid":
        assert "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]
        assert plan.max_jobs == 9
    else:
        assert tuned == {
            "eta", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "alpha",
            "lambda", "num_round",
        }  # fmt: skip
        assert definition["StaticHyperParameters"]["early_stopping_rounds"] == "25"
        assert plan.max_jobs == 8
    if strategy == "Hyperband":
        assert plan.hyperband is not None
        assert plan.hyperband.max_resource == tuning_requests.MAX_ROUNDS


def test_script_mode_reads_its_metrics_as_train_py_logs_them() -> None:
    body = build("Bayesian", "script")
    specification = body["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert specification["MetricDefinitions"] == load_script("train").METRIC_DEFINITIONS
    static = body["TrainingJobDefinition"]["StaticHyperParameters"]
    assert json.loads(static["sagemaker_program"]) == "train.py"
    assert (
        "MetricDefinitions"
        not in build("Bayesian", "builtin")["TrainingJobDefinition"]["AlgorithmSpecification"]
    )


def test_objectives_have_their_direction() -> None:
    objective = build("Random", "builtin", objective="validation:logloss")[
        "HyperParameterTuningJobConfig"
    ]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Minimize", "MetricName": "validation:logloss"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"strategy": "Annealing"}, "tuning strategy 'Annealing'"),
        ({"objective": "validation:rmse"}, "tuning objective 'validation:rmse'"),
    ],
)
def test_unknown_choices_are_refused(extra: dict, message: str) -> None:
    arguments = {"strategy": "Random", **extra}
    with pytest.raises(ValueError, match=message):
        build(mode="builtin", **arguments)
