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
    # Every page: the session's emulator holds the deployment actions of other tests' endpoints.
    pages = sagemaker.get_paginator("list_actions").paginate(
        ActionType="ModelDeployment", SortBy="Name", SortOrder="Ascending"
    )
    by_type = [a["ActionName"] for page in pages for a in page["ActionSummaries"]]
    assert name in by_type and by_type == sorted(by_type)
    assert sagemaker.delete_action(ActionName=name)["ActionArn"] == arn
    with pytest.raises(ClientError) as error:
        sagemaker.describe_action(ActionName=name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
