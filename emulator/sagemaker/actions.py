"""Lineage actions: Create/Describe/List/Update/Delete.

SageMaker creates an ``Approval`` action for each model package version (lineage.py); users
create their own (e.g. a ``ModelDeployment``). ListActions filters by SourceUri, ActionType and
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

KIND = lineage.ACTION
SUMMARY_KEYS = (
    "ActionArn",
    "ActionName",
    "Source",
    "ActionType",
    "Status",
    "CreationTime",
    "LastModifiedTime",
)


def find(engine: Engine, name_or_arn: str) -> dict[str, Any]:
    record = engine.store.find(KIND, lineage.name_from(name_or_arn))
    if record is None:
        raise ResourceNotFound(f"Action '{name_or_arn}' does not exist.")
    return record


@action("CreateAction")
def create_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ActionName"]
    arn = engine.arn("action", name)
    created = now()
    record: dict[str, Any] = {
        "ActionName": name,
        "ActionArn": arn,
        "Source": params["Source"],
        "ActionType": params["ActionType"],
        "Properties": params.get("Properties", {}),
        "CreationTime": created,
        "CreatedBy": {},
        "LastModifiedTime": created,
        "LastModifiedBy": {},
    }
    for key in ("Description", "Status", "MetadataProperties"):
        if key in params:
            record[key] = params[key]
    engine.store.create(
        KIND,
        lineage.key_of(name),
        record,
        duplicate_error=ValidationError,
        duplicate_message=f"Action with name {name} already exists.",
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"ActionArn": arn}


@action("DescribeAction")
def describe_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        return lineage.public(find(engine, params["ActionName"]))


@action("ListActions")
def list_actions(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        actions = [lineage.public(r) for r in engine.store.all(KIND)]
    if params.get("SourceUri"):
        actions = [a for a in actions if a["Source"]["SourceUri"] == params["SourceUri"]]
    if params.get("ActionType"):
        actions = [a for a in actions if a["ActionType"] == params["ActionType"]]
    return list_response(
        actions,
        created_window(params),
        list_key="ActionSummaries",
        summary_keys=SUMMARY_KEYS,
        name_key="ActionName",
    )


@action("UpdateAction")
def update_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["ActionName"])
        for key in ("Description", "Status"):
            if key in params:
                record[key] = params[key]
        properties = record.setdefault("Properties", {})
        properties.update(params.get("Properties", {}))
        for removed in params.get("PropertiesToRemove", []):
            properties.pop(removed, None)
        record["LastModifiedTime"] = now()
        return {"ActionArn": record["ActionArn"]}


@action("DeleteAction")
def delete_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["ActionName"])
        arn = record["ActionArn"]
        engine.store.delete(KIND, lineage.key_of(record["ActionName"]))
        lineage.drop_associations(engine, arn)
    return {"ActionArn": arn}
