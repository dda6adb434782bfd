"""Lineage actions through boto3: create, describe by name or ARN, list, update, delete."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def test_action_lifecycle(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"deploy-{uuid.uuid4().hex[:8]}"
    source = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
    arn = sagemaker.create_action(
        ActionName=name,
        Source={"SourceUri": source, "SourceType": "ARN"},
        ActionType="ModelDeployment",
        Status="InProgress",
        Properties={"k": "v"},
    )["ActionArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:action/{name}"
    with pytest.raises(ClientError) as error:
        sagemaker.create_action(ActionName=name, Source={"SourceUri": source}, ActionType="X")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert sagemaker.describe_action(ActionName=arn)["ActionType"] == "ModelDeployment"
    sagemaker.update_action(ActionName=name, Status="Completed", PropertiesToRemove=["k"])
    described = sagemaker.describe_action(ActionName=name)
    assert (described["Status"], described["Properties"]) == ("Completed", {})
    [listed] = sagemaker.list_actions(SourceUri=source)["ActionSummaries"]
    assert (listed["ActionName"], listed["Status"]) == (name, "Completed")
    by_type = sagemaker.list_actions(ActionType="ModelDeployment", SortBy="Name")
    assert name in [a["ActionName"] for a in by_type["ActionSummaries"]]
    assert sagemaker.delete_action(ActionName=name)["ActionArn"] == arn
    with pytest.raises(ClientError) as error:
        sagemaker.describe_action(ActionName=name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
