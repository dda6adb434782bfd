"""Lineage artifacts through boto3: create, describe, list filters and pages, update, delete."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def test_create_describe_update_and_delete_by_source(aws) -> None:
    sagemaker = aws("sagemaker")
    uri = f"s3://artifacts/{uuid.uuid4().hex}/data.csv"
    arn = sagemaker.create_artifact(
        ArtifactName="my-data",
        Source={"SourceUri": uri, "SourceTypes": [{"SourceIdType": "S3ETag", "Value": "abc"}]},
        ArtifactType="DataSet",
        Properties={"split": "train"},
    )["ArtifactArn"]
    assert arn.split(":")[5].startswith("artifact/") and len(arn.rsplit("/", 1)[1]) == 32
    described = sagemaker.describe_artifact(ArtifactArn=arn)
    assert described["ArtifactName"] == "my-data"
    assert described["Source"]["SourceTypes"] == [{"SourceIdType": "S3ETag", "Value": "abc"}]
    assert described["Properties"] == {"split": "train"}
    sagemaker.update_artifact(
        ArtifactArn=arn,
        ArtifactName="renamed",
        Properties={"rows": "9"},
        PropertiesToRemove=["split"],
    )
    described = sagemaker.describe_artifact(ArtifactArn=arn)
    assert (described["ArtifactName"], described["Properties"]) == ("renamed", {"rows": "9"})
    assert described["LastModifiedTime"] >= described["CreationTime"]
    assert sagemaker.delete_artifact(Source={"SourceUri": uri})["ArtifactArn"] == arn
    with pytest.raises(ClientError) as error:
        sagemaker.describe_artifact(ArtifactArn=arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_filters_by_source_and_type_and_pages(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex
    arns = [
        sagemaker.create_artifact(
            Source={"SourceUri": f"s3://artifacts/{tag}/{i}"}, ArtifactType=f"Type{tag}"
        )["ArtifactArn"]
        for i in range(3)
    ]
    [one] = sagemaker.list_artifacts(SourceUri=f"s3://artifacts/{tag}/1")["ArtifactSummaries"]
    assert one["ArtifactArn"] == arns[1] and one["ArtifactType"] == f"Type{tag}"
    first = sagemaker.list_artifacts(ArtifactType=f"Type{tag}", MaxResults=2, SortOrder="Ascending")
    assert [a["ArtifactArn"] for a in first["ArtifactSummaries"]] == arns[:2]
    rest = sagemaker.list_artifacts(
        ArtifactType=f"Type{tag}", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    assert [a["ArtifactArn"] for a in rest["ArtifactSummaries"]] == arns[2:]
    assert "NextToken" not in rest
    later = sagemaker.list_artifacts(
        ArtifactType=f"Type{tag}", CreatedAfter=one["CreationTime"], SortOrder="Ascending"
    )
    assert [a["ArtifactArn"] for a in later["ArtifactSummaries"]] == arns[2:]


def test_missing_artifacts_and_arns_of_other_accounts_are_not_found(aws) -> None:
    sagemaker = aws("sagemaker")
    for arn in (
        "arn:aws:sagemaker:us-east-1:123456789012:artifact/" + "0" * 32,
        "arn:aws:sagemaker:us-east-1:999999999999:artifact/" + "0" * 32,
    ):
        with pytest.raises(ClientError) as error:
            sagemaker.describe_artifact(ArtifactArn=arn)
        assert error.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as error:
        sagemaker.delete_artifact()
    assert error.value.response["Error"]["Code"] == "ValidationException"
