"""SageMaker Python SDK 3.x client code (the project's own SDK), run against the emulator.

The client scripts run with the project's interpreter as subprocesses, so that the SDK reaches
the emulator only as a user's code would (``AWS_ENDPOINT_URL``), and report what they saw.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# The client scripts this module's tests read the outcomes of (conftest.clients starts them).
CLIENT_SCRIPTS = ("sdk3_pipeline", "sdk3_hosting")


def test_pipeline_with_model_trainer_and_model_builder(aws, clients):
    result = clients["sdk3_pipeline"].result()
    assert result["status"] == "Succeeded", result["failures"]
    assert result["steps"] == dict.fromkeys(
        ("Preprocess", "Train", "Evaluate", "AccuracyCheck", "CreateModel", "RegisterModel"),
        "Succeeded",
    )
    assert result["condition"] == [{"Outcome": "True"}]
    # Evaluated in the 1.7-1 image's xgboost, from the model in that container's own format.
    assert result["evaluation"]["xgboost"] == "1.7.4"
    assert result["evaluation"]["metrics"]["accuracy"]["value"] >= 0.8
    assert result["versions"] == [[1, "PendingManualApproval"]]
    (model_arn,) = result["models"]
    model = aws("sagemaker").describe_model(ModelName=model_arn.split("/")[-1])
    assert model["PrimaryContainer"]["Image"].endswith("/sagemaker-xgboost:1.7-1")


def test_model_trainer_then_model_builder_deploy_and_transformer(aws, clients):
    result = clients["sdk3_hosting"].result()
    job = aws("sagemaker").describe_training_job(TrainingJobName=result["job"])
    assert job["TrainingJobStatus"] == result["job_status"] == "Completed"
    assert result["model_data"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    endpoint = result["endpoint"]
    assert endpoint["status"] == "InService"
    assert endpoint["count"] == endpoint["rows"] > 500
    assert 0 <= endpoint["min"] <= endpoint["max"] <= 1
    assert endpoint["accuracy"] >= 0.75
    assert result["transform"]["count"] == endpoint["count"]
    assert result["transform"]["max_difference_from_endpoint"] < 1e-5
    names = {e["EndpointName"] for e in aws("sagemaker").list_endpoints()["Endpoints"]}
    assert endpoint["name"] not in names  # the client deleted it
