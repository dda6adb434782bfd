"""Lineage contexts through boto3: create, describe by name or ARN, list, update, delete."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def test_context_lifecycle(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"endpoint_ctx-{uuid.uuid4().hex[:8]}"
    source = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name.replace('_', '-')}"
    arn = sagemaker.create_context(
        ContextName=name,
        Source={"SourceUri": source},
        ContextType="Endpoint",
        Description="where the model serves",
    )["ContextArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:context/{name}"
    described = sagemaker.describe_context(ContextName=arn)
    assert (described["ContextName"], described["Description"]) == (name, "where the model serves")
    sagemaker.update_context(ContextName=name, Properties={"stage": "prod"})
    assert sagemaker.describe_context(ContextName=name)["Properties"] == {"stage": "prod"}
    [listed] = sagemaker.list_contexts(SourceUri=source)["ContextSummaries"]
    assert (listed["ContextArn"], listed["ContextType"]) == (arn, "Endpoint")
    assert sagemaker.list_contexts(SourceUri=source, ContextType="Other")["ContextSummaries"] == []
    assert sagemaker.delete_context(ContextName=name)["ContextArn"] == arn
    with pytest.raises(ClientError) as error:
        sagemaker.delete_context(ContextName=name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
