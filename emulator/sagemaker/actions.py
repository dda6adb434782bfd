"""Lineage actions: Create/Describe/List/Update/Delete.

SageMaker creates an ``Approval`` action for each model package version (lineage.py); users
create their own (e.g. a ``ModelDeployment``). ListActions filters by SourceUri, ActionType and
creation time, and sorts by Name or CreationTime.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.registry import action

KIND = lineage.ACTION
ACTIONS = lineage.ACTIONS


@action("CreateAction")
def create_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return ACTIONS.create_from(engine, params)


@action("DescribeAction")
def describe_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return ACTIONS.describe(engine, params["ActionName"])


@action("ListActions")
def list_actions(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return ACTIONS.list_from(engine, params)


@action("UpdateAction")
def update_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return ACTIONS.update_from(engine, params)


@action("DeleteAction")
def delete_action(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return ACTIONS.delete_from(engine, params)
