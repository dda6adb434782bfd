"""Lineage contexts: Create/Describe/List/Update/Delete.

SageMaker creates a ``ModelGroup`` context for each model package group a version is
registered in (lineage.py); users create their own (an ``Endpoint`` context, ...). ListContexts
filters by SourceUri (how SDK code finds an endpoint's or a group's context), ContextType and
creation time, and sorts by Name or CreationTime.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import created_window, list_response
from emulator.sagemaker.registry import action

KIND = lineage.CONTEXT
SUMMARY_KEYS = (
    "ContextArn",
    "ContextName",
    "Source",
    "ContextType",
    "CreationTime",
    "LastModifiedTime",
)


def find(engine: Engine, name_or_arn: str) -> dict[str, Any]:
    record = engine.store.find(KIND, lineage.name_from(name_or_arn))
    if record is None:
        raise ResourceNotFound(f"Context '{name_or_arn}' does not exist.")
    return record


@action("CreateContext")
def create_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ContextName"]
    arn = engine.arn("context", name)
    created = now()
    record: dict[str, Any] = {
        "ContextName": name,
        "ContextArn": arn,
        "Source": params["Source"],
        "ContextType": params["ContextType"],
        "Properties": params.get("Properties", {}),
        "CreationTime": created,
        "CreatedBy": {},
        "LastModifiedTime": created,
        "LastModifiedBy": {},
    }
    if "Description" in params:
        record["Description"] = params["Description"]
    engine.store.create(
        KIND,
        lineage.key_of(name),
        record,
        duplicate_error=ValidationError,
        duplicate_message=f"Context with name {name} already exists.",
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"ContextArn": arn}


@action("DescribeContext")
def describe_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        return lineage.public(find(engine, params["ContextName"]))


@action("ListContexts")
def list_contexts(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        contexts = [lineage.public(r) for r in engine.store.all(KIND)]
    if params.get("SourceUri"):
        contexts = [c for c in contexts if c["Source"]["SourceUri"] == params["SourceUri"]]
    if params.get("ContextType"):
        contexts = [c for c in contexts if c["ContextType"] == params["ContextType"]]
    return list_response(
        contexts,
        created_window(params),
        list_key="ContextSummaries",
        summary_keys=SUMMARY_KEYS,
        name_key="ContextName",
    )


@action("UpdateContext")
def update_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["ContextName"])
        if "Description" in params:
            record["Description"] = params["Description"]
        properties = record.setdefault("Properties", {})
        properties.update(params.get("Properties", {}))
        for removed in params.get("PropertiesToRemove", []):
            properties.pop(removed, None)
        record["LastModifiedTime"] = now()
        return {"ContextArn": record["ContextArn"]}


@action("DeleteContext")
def delete_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["ContextName"])
        arn = record["ContextArn"]
        engine.store.delete(KIND, lineage.key_of(record["ContextName"]))
        lineage.drop_associations(engine, arn)
    return {"ContextArn": arn}
