"""Models and the model registry (groups, versions 1..n, approval), through boto3 and the
provider's SageMakerModelOperator and SageMakerRegisterModelVersionOperator."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import ROLE, XGBOOST_IMAGE


def metrics(accuracy: float) -> dict:
    return {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": f"s3://bucket/run/evaluation-{accuracy}.json",
            }
        }
    }


def register(sagemaker, group: str, accuracy: float, **extra) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelMetrics=metrics(accuracy),
        CustomerMetadataProperties={"accuracy": str(accuracy)},
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


def test_two_versions_then_approval_visible_in_describe_and_list(aws) -> None:
    sagemaker = aws("sagemaker")
    group = f"group-{uuid.uuid4().hex[:6]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    first, second = register(sagemaker, group, 0.86), register(sagemaker, group, 0.87)
    assert first.endswith(f"/{group}/1") and second.endswith(f"/{group}/2")
    described = sagemaker.describe_model_package(ModelPackageName=second)
    assert described["ModelPackageVersion"] == 2
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelMetrics"] == metrics(0.87)
    assert described["CustomerMetadataProperties"] == {"accuracy": "0.87"}

    sagemaker.update_model_package(
        ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="accuracy ok"
    )
    approved = sagemaker.describe_model_package(ModelPackageName=first)
    assert (approved["ModelApprovalStatus"], approved["ApprovalDescription"]) == (
        "Approved",
        "accuracy ok",
    )
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime")
    assert [p["ModelPackageVersion"] for p in listed["ModelPackageSummaryList"]] == [2, 1]
    assert [p["ModelApprovalStatus"] for p in listed["ModelPackageSummaryList"]] == [
        "PendingManualApproval",
        "Approved",
    ]
    only_approved = sagemaker.list_model_packages(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved"
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in only_approved] == [first]
    ascending = sagemaker.list_model_packages(
        ModelPackageGroupName=group, SortOrder="Ascending", MaxResults=1
    )
    assert ascending["ModelPackageSummaryList"][0]["ModelPackageVersion"] == 1
    assert "NextToken" in ascending


def test_registry_errors_read_as_on_aws(aws) -> None:
    sagemaker = aws("sagemaker")
    group = f"group-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError, match=f"ModelPackageGroup {group} does not exist"):
        register(sagemaker, group, 0.9)
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError, match="Model Package Group already exists"):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = register(sagemaker, group, 0.9)
    with pytest.raises(ClientError, match="has model packages"):
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    sagemaker.delete_model_package(ModelPackageName=arn)
    sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)


def test_models_create_describe_list_delete_and_duplicates(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"model-{uuid.uuid4().hex[:6]}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}
    arn = sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer=container,
        Tags=[{"Key": "run", "Value": "r1"}],
    )["ModelArn"]
    described = sagemaker.describe_model(ModelName=name)["PrimaryContainer"]
    assert described == {**container, "Mode": "SingleModel", "Environment": {}}
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "run", "Value": "r1"}]
    with pytest.raises(ClientError, match="Cannot create already existing model"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    listed = sagemaker.list_models(NameContains=name)["Models"]
    assert [m["ModelName"] for m in listed] == [name]
    sagemaker.delete_model(ModelName=name)
    with pytest.raises(ClientError, match=f'Could not find model "{name}"'):
        sagemaker.describe_model(ModelName=name)
    with pytest.raises(ClientError, match="Either PrimaryContainer or Containers"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE)


def test_provider_model_and_register_operators(aws, connection) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import (
        ApprovalStatus,
        SageMakerModelOperator,
        SageMakerRegisterModelVersionOperator,
    )

    name = f"op-model-{uuid.uuid4().hex[:6]}"
    created = SageMakerModelOperator(
        task_id="create_model",
        config={
            "ModelName": name,
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"},
        },
        aws_conn_id=connection,
    ).execute({})
    assert created["Model"]["ModelName"] == name

    group = f"op-group-{uuid.uuid4().hex[:6]}"
    arns = []
    for _ in range(2):  # the second run finds the group and adds version 2
        operator = SageMakerRegisterModelVersionOperator(
            task_id="register",
            image_uri=XGBOOST_IMAGE,
            model_url="s3://b/model.tar.gz",
            package_group_name=group,
            model_approval=ApprovalStatus.APPROVED,
            extras={"ModelMetrics": metrics(0.88)},
            aws_conn_id=connection,
        )
        arns.append(operator.execute({}))
    assert [arn.rsplit("/", 1)[1] for arn in arns] == ["1", "2"]
    described = aws("sagemaker").describe_model_package(ModelPackageName=arns[1])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ModelMetrics"] == metrics(0.88)
