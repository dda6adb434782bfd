"""Models: CreateModel / DescribeModel / DeleteModel / ListModels."""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import list_response
from emulator.sagemaker.registry import action

KIND = "Model"


def missing(name: str) -> str:
    return f'Could not find model "{name}".'


@action("CreateModel")
def create_model(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelName"]
    if "PrimaryContainer" not in params and not params.get("Containers"):
        raise ValidationError("Either PrimaryContainer or Containers must be specified.")
    arn = engine.arn("model", name)
    record = {**copy.deepcopy(params), "ModelArn": arn, "CreationTime": now()}
    record.pop("Tags", None)
    engine.store.create(
        KIND,
        name,
        record,
        duplicate_error=ValidationError,
        duplicate_message=f'Cannot create already existing model "{arn}".',
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"ModelArn": arn}


@action("DescribeModel")
def describe_model(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelName"]
    return engine.store.snapshot(KIND, name, missing_message=missing(name))


@action("DeleteModel")
def delete_model(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelName"]
    engine.store.get(KIND, name, missing_message=missing(name))
    engine.store.delete(KIND, name)
    return {}


@action("ListModels")
def list_models(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return list_response(
        engine.store.all(KIND),
        params,
        list_key="Models",
        summary_keys=("ModelName", "ModelArn", "CreationTime"),
        name_key="ModelName",
    )
