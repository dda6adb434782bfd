"""Endpoint configurations: Create/Describe/Delete/List EndpointConfig."""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import list_response
from emulator.sagemaker.models import KIND as MODEL
from emulator.sagemaker.models import missing as model_missing
from emulator.sagemaker.registry import action

KIND = "EndpointConfig"


def missing(name: str) -> str:
    return f'Could not find endpoint configuration "{name}".'


@action("CreateEndpointConfig")
def create_endpoint_config(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointConfigName"]
    variants = params["ProductionVariants"]
    names = [variant["VariantName"] for variant in variants]
    if len(set(names)) != len(names):
        raise ValidationError(f"Variant names must be unique; got {names}.")
    for variant in variants:  # AWS checks the models exist when the config is created
        if not variant.get("ModelName"):
            raise ValidationError(f"Variant {variant['VariantName']} names no ModelName.")
        engine.store.get(
            MODEL, variant["ModelName"], missing_message=model_missing(variant["ModelName"])
        )
    arn = engine.arn("endpoint-config", name)
    record = {**copy.deepcopy(params), "EndpointConfigArn": arn, "CreationTime": now()}
    for variant in record["ProductionVariants"]:
        variant.setdefault("InitialVariantWeight", 1.0)
        variant.setdefault("InitialInstanceCount", 1)
    record.pop("Tags", None)
    engine.store.create(
        KIND,
        name,
        record,
        duplicate_error=ValidationError,
        duplicate_message=f'Cannot create already existing endpoint configuration "{arn}".',
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"EndpointConfigArn": arn}


@action("DescribeEndpointConfig")
def describe_endpoint_config(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointConfigName"]
    return engine.store.snapshot(KIND, name, missing_message=missing(name))


@action("DeleteEndpointConfig")
def delete_endpoint_config(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointConfigName"]
    engine.store.get(KIND, name, missing_message=missing(name))
    engine.store.delete(KIND, name)
    return {}


@action("ListEndpointConfigs")
def list_endpoint_configs(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return list_response(
        engine.store.all(KIND),
        params,
        list_key="EndpointConfigs",
        summary_keys=("EndpointConfigName", "EndpointConfigArn", "CreationTime"),
        name_key="EndpointConfigName",
    )
