"""The experiments and trials SageMaker makes itself: for pipeline executions, tuning jobs and jobs
whose ExperimentConfig names only an experiment — and the clean-up the provider's example DAGs do
(list trials, disassociate and delete components, delete trials, then the experiment)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import ROLE, training_definition, wait_for
from tests.emulator.algorithms.test_knn_builtin import (
    KNN_IMAGE,
    REQUIRED,
    clusters,
    csv_text,
    knn_tuning,
)


@pytest.fixture(scope="module")
def knn_prefix(aws, bucket) -> str:
    prefix = f"svc-exp-{uuid.uuid4().hex[:8]}"
    for channel in ("train", "test"):
        body = csv_text(clusters(rows_per_class=10)).encode()
        aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/{channel}/data.csv", Body=body)
    return prefix


def trial_names(sagemaker, experiment: str) -> list[str]:
    return [
        t["TrialName"] for t in sagemaker.list_trials(ExperimentName=experiment)["TrialSummaries"]
    ]


def clean_up(sagemaker, experiment: str) -> None:
    """What the provider's example_sagemaker.delete_experiments does, call for call."""
    for trial in trial_names(sagemaker, experiment):
        listed = sagemaker.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
        for component in (c["TrialComponentName"] for c in listed):
            sagemaker.disassociate_trial_component(TrialComponentName=component, TrialName=trial)
            sagemaker.delete_trial_component(TrialComponentName=component)
        sagemaker.delete_trial(TrialName=trial)
    sagemaker.delete_experiment(ExperimentName=experiment)


def test_a_job_naming_only_an_experiment_gets_a_trial_of_its_own(aws, bucket, knn_prefix) -> None:
    sagemaker = aws("sagemaker")
    experiment = f"exp-{uuid.uuid4().hex[:8]}"
    sagemaker.create_experiment(ExperimentName=experiment)
    name = f"knn-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(
        TrainingJobName=name,
        HyperParameters=REQUIRED,
        ExperimentConfig={"ExperimentName": experiment},
        **training_definition(bucket, knn_prefix, KNN_IMAGE, ("train",)),
    )
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert trial_names(sagemaker, experiment) == [f"{name}-aws-trial"]
    trial = sagemaker.describe_trial(TrialName=f"{name}-aws-trial")
    assert trial["Source"] == {
        "SourceArn": job["TrainingJobArn"],
        "SourceType": "SageMakerTrainingJob",
    }
    components = sagemaker.list_trial_components(TrialName=f"{name}-aws-trial")
    assert [c["TrialComponentName"] for c in components["TrialComponentSummaries"]] == [
        f"{name}-aws-training-job"
    ]
    clean_up(sagemaker, experiment)
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_trial(TrialName=f"{name}-aws-trial")


def test_a_job_naming_a_missing_experiment_makes_nothing(aws, bucket, knn_prefix) -> None:
    sagemaker = aws("sagemaker")
    name = f"knn-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(
        TrainingJobName=name,
        HyperParameters=REQUIRED,
        ExperimentConfig={"ExperimentName": f"missing-{uuid.uuid4().hex[:8]}"},
        **training_definition(bucket, knn_prefix, KNN_IMAGE, ("train",)),
    )
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus")
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_trial(TrialName=f"{name}-aws-trial")


def test_a_tuning_job_has_an_experiment_with_a_trial_per_training_job(aws, bucket, knn_prefix):
    sagemaker = aws("sagemaker")
    name = f"svc-tune-{uuid.uuid4().hex[:6]}"
    tuning = knn_tuning(aws, bucket, knn_prefix, name, 2, k=(1, 5), sample=(10, 30))
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    experiment = sagemaker.describe_experiment(ExperimentName=f"{name}-aws-tuning-job")
    assert experiment["Source"]["SourceArn"] == tuning["HyperParameterTuningJobArn"]
    jobs = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]
    expected = {f"{job['TrainingJobName']}-aws-trial" for job in jobs}
    assert len(expected) == 2 and set(trial_names(sagemaker, f"{name}-aws-tuning-job")) == expected
    clean_up(sagemaker, f"{name}-aws-tuning-job")
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_experiment(ExperimentName=f"{name}-aws-tuning-job")


def condition_only(experiment_config: dict | None) -> str:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {"Type": "LessThanOrEqualTo", "LeftValue": 3.0, "RightValue": 6.0}
                    ],
                    "IfSteps": [],
                    "ElseSteps": [],
                },
            }
        ],
    }
    if experiment_config is not None:
        definition["PipelineExperimentConfig"] = experiment_config
    return json.dumps(definition)


def run_pipeline(sagemaker, definition: str) -> tuple[str, dict]:
    name = f"svc-pipe-{uuid.uuid4().hex[:8]}"
    sagemaker.create_pipeline(PipelineName=name, PipelineDefinition=definition, RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    done = wait_for(
        lambda: sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn),
        "PipelineExecutionStatus",
        pending=frozenset({"Executing", "Stopping"}),
    )
    assert done["PipelineExecutionStatus"] == "Succeeded", done.get("FailureReason")
    return name, done


def test_a_pipeline_execution_has_the_experiment_and_trial_its_config_names(aws) -> None:
    sagemaker = aws("sagemaker")
    default = {
        "ExperimentName": {"Get": "Execution.PipelineName"},
        "TrialName": {"Get": "Execution.PipelineExecutionId"},
    }
    name, execution = run_pipeline(sagemaker, condition_only(default))
    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    assert execution["PipelineExperimentConfig"] == {
        "ExperimentName": name,
        "TrialName": execution_id,
    }
    assert sagemaker.describe_experiment(ExperimentName=name)["Source"]["SourceType"] == (
        "SageMakerPipeline"
    )
    assert trial_names(sagemaker, name) == [execution_id]
    clean_up(sagemaker, name)


def test_a_pipeline_without_an_experiment_config_makes_none(aws) -> None:
    sagemaker = aws("sagemaker")
    name, execution = run_pipeline(sagemaker, condition_only(None))
    assert "PipelineExperimentConfig" not in execution
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_experiment(ExperimentName=name)
