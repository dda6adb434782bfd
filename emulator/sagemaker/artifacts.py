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
from emulator.sagemaker.registry import action

KIND = lineage.ARTIFACT
ARTIFACTS = lineage.ARTIFACTS
ARTIFACTS.register("DescribeArtifact", "ListArtifacts", "UpdateArtifact")


@action("CreateArtifact")
def create_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    artifact_id = lineage.new_artifact_id()
    arn = f"arn:aws:sagemaker:{engine.region}:{engine.account_id}:artifact/{artifact_id}"
    return ARTIFACTS.create_from(engine, params, arn)


@action("DeleteArtifact")
def delete_artifact(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    """By ARN, or by Source (its SourceUri): the API takes either."""
    if params.get("ArtifactArn"):
        return ARTIFACTS.delete_request(engine, params)
    if not params.get("Source"):
        raise ValidationError("Either ArtifactArn or Source must be specified.")
    uri = params["Source"]["SourceUri"]
    with engine.store.lock:
        record = next((a for a in engine.store.all(KIND) if a["Source"]["SourceUri"] == uri), None)
        if record is None:
            raise ResourceNotFound(f"No artifact has the SourceUri {uri}.")
        return ARTIFACTS.forget(engine, record)
