"""Lineage artifacts: Create/Describe/List/Update/Delete.

SageMaker creates artifacts itself for jobs' S3 inputs, outputs and images and for model
packages (lineage.py), one per SourceUri; a user's CreateArtifact adds one of its own. ARNs end
in a 32-hex id, as SageMaker's do. ListArtifacts filters by SourceUri (how SDK code finds a
model package's artifact), ArtifactType and creation time.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import created_window, list_response
from emulator.sagemaker.registry import action

KIND = lineage.ARTIFACT
SUMMARY_KEYS = (
    "ArtifactArn",
    "ArtifactName",
    "Source",
    "ArtifactType",
    "CreationTime",
    "LastModifiedTime",
)


def find(engine: Engine, arn: str) -> dict[str, Any]:
    where = lineage.locate(engine, arn)
    record = engine.store.find(*where) if where and where[0] == KIND else None
    if record is None:
        raise ResourceNotFound(f"Artifact '{arn}' does not exist.")
    return record


@action("CreateArtifact")
def create_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    artifact_id = lineage.new_artifact_id()
    arn = f"arn:aws:sagemaker:{engine.region}:{engine.account_id}:artifact/{artifact_id}"
    created = now()
    record: dict[str, Any] = {
        "ArtifactArn": arn,
        "Source": params["Source"],
        "ArtifactType": params["ArtifactType"],
        "Properties": params.get("Properties", {}),
        "CreationTime": created,
        "CreatedBy": {},
        "LastModifiedTime": created,
        "LastModifiedBy": {},
    }
    for key in ("ArtifactName", "MetadataProperties"):
        if key in params:
            record[key] = params[key]
    engine.store.create(KIND, artifact_id, record)
    engine.tags.set(arn, params.get("Tags", []))
    return {"ArtifactArn": arn}


@action("DescribeArtifact")
def describe_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        return lineage.public(find(engine, params["ArtifactArn"]))


@action("ListArtifacts")
def list_artifacts(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        artifacts = [lineage.public(r) for r in engine.store.all(KIND)]
    if params.get("SourceUri"):
        artifacts = [a for a in artifacts if a["Source"]["SourceUri"] == params["SourceUri"]]
    if params.get("ArtifactType"):
        artifacts = [a for a in artifacts if a["ArtifactType"] == params["ArtifactType"]]
    return list_response(
        artifacts,
        created_window(params),
        list_key="ArtifactSummaries",
        summary_keys=SUMMARY_KEYS,
        name_key="ArtifactArn",
    )


@action("UpdateArtifact")
def update_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["ArtifactArn"])
        if "ArtifactName" in params:
            record["ArtifactName"] = params["ArtifactName"]
        properties = record.setdefault("Properties", {})
        properties.update(params.get("Properties", {}))
        for removed in params.get("PropertiesToRemove", []):
            properties.pop(removed, None)
        record["LastModifiedTime"] = now()
        return {"ArtifactArn": record["ArtifactArn"]}


@action("DeleteArtifact")
def delete_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    """By ARN, or by Source (its SourceUri): the API takes either."""
    with engine.store.lock:
        if params.get("ArtifactArn"):
            record = find(engine, params["ArtifactArn"])
        elif params.get("Source"):
            uri = params["Source"]["SourceUri"]
            record = next(
                (a for a in engine.store.all(KIND) if a["Source"]["SourceUri"] == uri), None
            )
            if record is None:
                raise ResourceNotFound(f"No artifact has the SourceUri {uri}.")
        else:
            raise ValidationError("Either ArtifactArn or Source must be specified.")
        arn = record["ArtifactArn"]
        engine.store.delete(KIND, arn.rsplit("/", 1)[-1])
        lineage.drop_associations(engine, arn)
    return {"ArtifactArn": arn}
