"""Every request body the DAG sends is valid for botocore's SageMaker service model."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.validate import ParamValidator

from include.adult_income import names, sagemaker_requests
from tests.conftest import DAG_DEFAULT_HYPERPARAMETERS

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
RUN_ID = "scheduled__2026-11-20T00:00:00+00:00"
LAYOUT = sagemaker_requests.RunLayout(
    input_uri="s3://bucket-x/adult-income/raw/ds=2026-11-20/",
    run_uri="s3://bucket-x/adult-income/" + names.run_path("adult_income_pipeline", RUN_ID),
)
SAMPLE_CONF = {"num_round": 80, "max_depth": 6, "eta": 0.2, "early_stopping_rounds": 5, "seed": 7}


# What every job of the run is given: its image, role, layout and instances.
RUN_JOB = {
    "image_uri": IMAGE,
    "role_arn": ROLE,
    "layout": LAYOUT,
    "instance_type": "ml.m5.xlarge",
    "instance_count": 1,
}


def name(task: str) -> str:
    return names.resource_name("adult_income_pipeline", RUN_ID, task)


BODIES = {
    "CreateProcessingJob/preprocess": sagemaker_requests.preprocess_request(
        job_name=name("preprocess"),
        **RUN_JOB,
        seed=7,
    ),
    "CreateTrainingJob": sagemaker_requests.training_request(
        job_name=name("train"),
        **RUN_JOB,
        hyperparameters=sagemaker_requests.hyperparameters_for(SAMPLE_CONF),
    ),
    "CreateProcessingJob/evaluate": sagemaker_requests.evaluate_request(
        job_name=name("evaluate"),
        **RUN_JOB,
        model_artifact_uri=f"{LAYOUT.model_output_uri}/x/output/model.tar.gz",
        champion_model_uri="s3://bucket-x/adult-income/runs/r1/model/t/output/model.tar.gz",
        champion_code_uri="s3://bucket-x/adult-income/runs/r1/data/schema/inference.tar.gz",
        champion_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/adult-income-xgboost/1",
        max_regression=0.01,
    ),
    "CreateModel": sagemaker_requests.model_request(
        model_name=name("create_model"),
        image_uri=IMAGE,
        model_data_url=f"{LAYOUT.model_output_uri}/x/output/model.tar.gz",
        code_uri=LAYOUT.inference_code_uri,
        role_arn=ROLE,
    ),
    "CreateModelPackage": sagemaker_requests.model_package_request(
        group_name="adult-income-xgboost",
        image_uri=IMAGE,
        model_data_url=f"{LAYOUT.model_output_uri}/x/output/model.tar.gz",
        code_uri=LAYOUT.inference_code_uri,
        evaluation_json_uri=f"{LAYOUT.evaluation_uri}/evaluation.json",
        approval_status="PendingManualApproval",
        metadata={"dag_id": "adult_income_pipeline", "run_id": RUN_ID, "training_job": "t"},
        description="d",
    ),
    "CreateEndpointConfig": sagemaker_requests.endpoint_config_request(
        config_name=name("endpoint_config"),
        model_name=name("create_model"),
        instance_type="ml.m5.large",
        instance_count=1,
    ),
    "CreateEndpoint": sagemaker_requests.endpoint_request(
        endpoint_name="adult-income-xgboost", config_name=name("endpoint_config")
    ),
}


@pytest.mark.parametrize("operation", sorted(BODIES))
def test_body_is_valid_for_botocore(operation: str) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation.split("/")[0]).input_shape
    report = ParamValidator().validate(BODIES[operation], shape)
    assert not report.has_errors(), report.generate_report()


def test_hyperparameters_are_strings_with_the_seed_defaults() -> None:
    defaults = sagemaker_requests.hyperparameters_for({})
    assert defaults == DAG_DEFAULT_HYPERPARAMETERS
    chosen = sagemaker_requests.hyperparameters_for(SAMPLE_CONF)
    assert chosen["num_round"] == "80" and chosen["early_stopping_rounds"] == "5"
    assert chosen["seed"] == "7"


def test_jobs_read_their_run_and_write_under_it() -> None:
    preprocess = BODIES["CreateProcessingJob/preprocess"]
    sources = [item["S3Input"]["S3Uri"] for item in preprocess["ProcessingInputs"]]
    assert LAYOUT.input_uri in sources
    for output in preprocess["ProcessingOutputConfig"]["Outputs"]:
        assert output["S3Output"]["S3Uri"].startswith(LAYOUT.run_uri + "/")
    training = BODIES["CreateTrainingJob"]
    assert training["OutputDataConfig"]["S3OutputPath"].startswith(LAYOUT.run_uri)
    metrics = BODIES["CreateModelPackage"]["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert metrics["S3Uri"] == f"{LAYOUT.evaluation_uri}/evaluation.json"


def test_model_and_version_serve_raw_records_through_the_runs_inference_bundle() -> None:
    container = BODIES["CreateModel"]["PrimaryContainer"]
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": f"{LAYOUT.run_uri}/data/schema/inference.tar.gz",
    }
    specification = BODIES["CreateModelPackage"]["InferenceSpecification"]
    assert specification["Containers"] == [container]
    assert "application/json" in specification["SupportedContentTypes"]
