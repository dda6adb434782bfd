"""Associations through boto3: both ends must exist, the ends' names and types are listed as
they are now, filters and sorting, delete; deleting an entity takes its associations along."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def artifact(sagemaker, kind: str, name: str | None = None) -> str:
    extra = {"ArtifactName": name} if name else {}
    return sagemaker.create_artifact(
        Source={"SourceUri": f"s3://assoc/{uuid.uuid4().hex}"}, ArtifactType=kind, **extra
    )["ArtifactArn"]


def test_add_list_and_delete(aws) -> None:
    sagemaker = aws("sagemaker")
    data, model = artifact(sagemaker, "DataSet", "data"), artifact(sagemaker, "Model")
    action = f"train-{uuid.uuid4().hex[:8]}"
    action_arn = sagemaker.create_action(
        ActionName=action, Source={"SourceUri": "local"}, ActionType="Training"
    )["ActionArn"]
    added = sagemaker.add_association(
        SourceArn=data, DestinationArn=action_arn, AssociationType="ContributedTo"
    )
    assert (added["SourceArn"], added["DestinationArn"]) == (data, action_arn)
    sagemaker.add_association(
        SourceArn=action_arn, DestinationArn=model, AssociationType="Produced"
    )
    [into] = sagemaker.list_associations(DestinationArn=action_arn)["AssociationSummaries"]
    assert into["SourceType"] == "DataSet" and into["SourceName"] == "data"
    assert into["DestinationType"] == "Training" and into["DestinationName"] == action
    assert into["AssociationType"] == "ContributedTo"
    [out] = sagemaker.list_associations(SourceArn=action_arn)["AssociationSummaries"]
    assert out["DestinationArn"] == model and "DestinationName" not in out
    produced = sagemaker.list_associations(SourceArn=action_arn, AssociationType="ContributedTo")
    assert produced["AssociationSummaries"] == []
    by_type = sagemaker.list_associations(DestinationType="Model", SourceArn=action_arn)
    assert len(by_type["AssociationSummaries"]) == 1
    # Every page: the session's emulator holds the associations of other tests' jobs too.
    pages = sagemaker.get_paginator("list_associations").paginate(
        SortBy="SourceType", SortOrder="Ascending", PaginationConfig={"PageSize": 100}
    )
    both = [a for page in pages for a in page["AssociationSummaries"]]
    mine = [a for a in both if action_arn in a.values()]
    assert [a["SourceType"] for a in mine] == ["DataSet", "Training"]
    sagemaker.delete_association(SourceArn=data, DestinationArn=action_arn)
    assert sagemaker.list_associations(DestinationArn=action_arn)["AssociationSummaries"] == []
    with pytest.raises(ClientError) as error:
        sagemaker.delete_association(SourceArn=data, DestinationArn=action_arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
    sagemaker.delete_action(ActionName=action)  # its remaining association goes with it
    assert sagemaker.list_associations(DestinationArn=model)["AssociationSummaries"] == []


def test_both_ends_must_exist(aws) -> None:
    sagemaker = aws("sagemaker")
    data = artifact(sagemaker, "DataSet")
    ghost = "arn:aws:sagemaker:us-east-1:123456789012:context/no-such-context"
    with pytest.raises(ClientError) as error:
        sagemaker.add_association(SourceArn=data, DestinationArn=ghost)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
    assert sagemaker.list_associations(SourceArn=data)["AssociationSummaries"] == []


def test_an_arn_names_its_entity_whatever_the_case_of_the_name(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"Train-{uuid.uuid4().hex[:8]}"
    own_arn = sagemaker.create_action(
        ActionName=name, Source={"SourceUri": "local"}, ActionType="Training"
    )["ActionArn"]
    as_typed = f"arn:aws:sagemaker:us-east-1:123456789012:action/{name}"
    assert own_arn == as_typed.lower()
    data = artifact(sagemaker, "DataSet")
    added = sagemaker.add_association(SourceArn=data, DestinationArn=as_typed)
    assert added["DestinationArn"] == own_arn
    [listed] = sagemaker.list_associations(DestinationArn=as_typed)["AssociationSummaries"]
    assert listed["DestinationArn"] == own_arn and listed["DestinationName"] == name
    walked = sagemaker.query_lineage(StartArns=[as_typed], Direction="Ascendants")
    assert {v["Arn"] for v in walked["Vertices"]} == {own_arn, data}
    sagemaker.delete_association(SourceArn=data, DestinationArn=as_typed)
    assert sagemaker.list_associations(DestinationArn=own_arn)["AssociationSummaries"] == []
