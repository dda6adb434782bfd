"""Models, including a container that names a model package: CreateModel resolves it to the
package's inference containers, so deploying and transforming a registered version work."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import ROLE, XGBOOST_IMAGE, TrainedModel, image_scores
from tests.emulator.test_endpoints import deploy
from tests.emulator.test_transform_jobs import transform


def register(aws, trained_model: TrainedModel, status: str) -> str:
    sagemaker = aws("sagemaker")
    group = f"pkg-{uuid.uuid4().hex[:8]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": XGBOOST_IMAGE,
                    "ModelDataUrl": trained_model.model_data_url,
                    # the model's own Environment overrides this one
                    "Environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def model_from(aws, package: str) -> str:
    name = f"from-pkg-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "ModelPackageName": package,
            "Environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"},
        },
    )
    return name


@pytest.fixture(scope="module")
def package_model(aws, trained_model: TrainedModel) -> str:
    return model_from(aws, register(aws, trained_model, "Approved"))


def test_a_model_from_an_approved_package_is_described_as_requested(aws, package_model) -> None:
    described = aws("sagemaker").describe_model(ModelName=package_model)
    assert set(described["PrimaryContainer"]) == {"ModelPackageName", "Environment", "Mode"}
    assert described["PrimaryContainer"]["Mode"] == "SingleModel"
    assert ":model-package/pkg-" in described["PrimaryContainer"]["ModelPackageName"]
    assert described["EnableNetworkIsolation"] is False
    assert not any(key.startswith("_") for key in described)


def test_a_model_from_a_package_serves_the_package_s_model(
    aws, trained_model, package_model
) -> None:
    sagemaker = aws("sagemaker")
    endpoint = deploy(sagemaker, package_model)
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == (
        XGBOOST_IMAGE
    )
    rows = np.loadtxt(trained_model.processed / "test" / "test.csv", delimiter=",")[:20, 1:]
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
    answer = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="text/csv"
    )
    # No Accept: the default the model's Environment (over the package's) names.
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())["predictions"]
    scores = np.array([p["score"] for p in predictions])
    expected = image_scores(XGBOOST_IMAGE, trained_model.booster_path, rows)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_a_transform_job_runs_with_a_model_from_a_package(
    aws, bucket, trained_model, package_model
) -> None:
    prefix = f"pkg-transform-{uuid.uuid4().hex[:6]}"
    rows = (trained_model.processed / "test" / "test.csv").read_text().splitlines()[:7]
    features = "\n".join(row.split(",", 1)[1] for row in rows)
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/x.csv", Body=features.encode())
    job = transform(aws, package_model, f"s3://{bucket}/{prefix}/in", f"s3://{bucket}/{prefix}/out")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = aws("s3").get_object(Bucket=bucket, Key=f"{prefix}/out/x.csv.out")["Body"].read()
    assert len(out.decode().split()) == 7


def test_an_unapproved_package_is_refused_naming_it(aws, trained_model) -> None:
    package = register(aws, trained_model, "PendingManualApproval")
    with pytest.raises(ClientError) as caught:
        model_from(aws, package)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert package in error["Message"] and "PendingManualApproval" in error["Message"]
    aws("sagemaker").update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    model_from(aws, package)  # approved now: accepted


def test_an_unknown_package_is_refused_naming_it(aws) -> None:
    unknown = "arn:aws:sagemaker:us-east-1:123456789012:model-package/no-such-group/9"
    with pytest.raises(ClientError) as caught:
        model_from(aws, unknown)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert unknown in error["Message"]


def test_describe_model_fills_in_what_the_service_does(aws, trained_model) -> None:
    sagemaker = aws("sagemaker")
    name = f"plain-{uuid.uuid4().hex[:8]}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": trained_model.model_data_url}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    described = sagemaker.describe_model(ModelName=name)
    assert described["PrimaryContainer"] == {**container, "Mode": "SingleModel", "Environment": {}}
    assert described["EnableNetworkIsolation"] is False
    assert "Containers" not in described
    isolated = f"isolated-{uuid.uuid4().hex[:8]}"
    sagemaker.create_model(
        ModelName=isolated,
        ExecutionRoleArn=ROLE,
        Containers=[container],
        EnableNetworkIsolation=True,
    )
    described = sagemaker.describe_model(ModelName=isolated)
    assert described["Containers"][0]["Mode"] == "SingleModel"
    assert described["EnableNetworkIsolation"] is True
    assert "PrimaryContainer" not in described
