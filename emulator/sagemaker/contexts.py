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
from emulator.sagemaker.registry import action

KIND = lineage.CONTEXT
CONTEXTS = lineage.CONTEXTS


@action("CreateContext")
def create_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return CONTEXTS.create_from(engine, params)


@action("DescribeContext")
def describe_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return CONTEXTS.describe(engine, params["ContextName"])


@action("ListContexts")
def list_contexts(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return CONTEXTS.list_from(engine, params)


@action("UpdateContext")
def update_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return CONTEXTS.update_from(engine, params)


@action("DeleteContext")
def delete_context(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return CONTEXTS.delete_from(engine, params)
