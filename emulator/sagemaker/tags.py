"""AddTags / ListTags / DeleteTags for every resource, by ARN."""

from __future__ import annotations

from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.registry import action


@action("AddTags")
def add_tags(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    engine.tags.add(params["ResourceArn"], params["Tags"])
    return {"Tags": engine.tags.get(params["ResourceArn"])}


@action("ListTags")
def list_tags(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": engine.tags.get(params["ResourceArn"])}


@action("DeleteTags")
def delete_tags(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    engine.tags.remove(params["ResourceArn"], params["TagKeys"])
    return {}
