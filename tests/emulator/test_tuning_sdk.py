"""The SageMaker Python SDK 3's tuning API (HyperparameterTuner over a ModelTrainer) against the
emulator: tune(), describe(), best_training_job() and analytics()."""

from __future__ import annotations

import contextlib
import json
import uuid

import boto3
import pytest

from tests.emulator.clients.client_support import TRUST_POLICY
from tests.emulator.conftest import ROLE, XGBOOST_IMAGE
from tests.emulator.test_tuning_jobs import data  # noqa: F401 (the data slice fixture)


@pytest.fixture()
def sdk_session(emulator, aws, monkeypatch: pytest.MonkeyPatch):
    """An SDK 3 session whose clients (sagemaker-core's too) reach the emulator."""
    from sagemaker.core.helper.session_helper import Session

    # The SDK checks that SageMaker may assume the role before it sends a job.
    iam = aws("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
        )

    # boto3 reads the endpoint from the environment for every client it makes, including the
    # ones sagemaker-core builds from the session itself.
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto = boto3.session.Session(region_name="us-east-1")
    return Session(boto_session=boto, default_bucket="emulator-tests")


def test_sdk3_hyperparameter_tuner_runs_a_tuning_job(sdk_session, aws, bucket, data) -> None:  # noqa: F811
    from sagemaker.core.shapes import OutputDataConfig, StoppingCondition
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    trainer = ModelTrainer(
        sagemaker_session=sdk_session,
        role=ROLE,
        training_image=XGBOOST_IMAGE,
        compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=5),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{data}/sdk3"),
        hyperparameters={"objective": "binary:logistic", "num_round": "8"},
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="validation:logloss",
        objective_type="Minimize",
        hyperparameter_ranges={
            "eta": ContinuousParameter(0.1, 0.5),
            "max_depth": IntegerParameter(2, 5),
        },
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
        random_seed=5,
    )
    name = f"sdk3-{uuid.uuid4().hex[:8]}"
    inputs = [
        InputData(
            channel_name=channel,
            data_source=f"s3://{bucket}/{data}/{channel}",
            content_type="text/csv",
        )
        for channel in ("train", "validation")
    ]
    tuner.tune(inputs=inputs, job_name=name, wait=True)
    described = tuner.describe()
    assert described.hyper_parameter_tuning_job_status == "Completed"
    best = tuner.best_training_job()
    summaries = aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]
    assert len(summaries) == 2
    lowest = min(summaries, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert best == lowest["TrainingJobName"]
    frame = tuner.analytics().dataframe()
    assert sorted(frame["TrainingJobName"]) == sorted(s["TrainingJobName"] for s in summaries)
    assert set(frame.columns) >= {"eta", "max_depth", "FinalObjectiveValue", "TrainingJobStatus"}
