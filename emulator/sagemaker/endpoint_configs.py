"""Endpoint configurations: Create/Describe/Delete/List EndpointConfig."""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lifecycle import Resource, hosting_errors
from emulator.sagemaker.models import MODELS
from emulator.sagemaker.registry import action

KIND = "EndpointConfig"
CONFIGS = Resource(
    KIND,
    **hosting_errors("endpoint configuration"),
    list_key="EndpointConfigs",
    summary_keys=("EndpointConfigName", "EndpointConfigArn", "CreationTime"),
    modified=False,
)
CONFIGS.register("DescribeEndpointConfig", "DeleteEndpointConfig", "ListEndpointConfigs")


@action("CreateEndpointConfig")
def create_endpoint_config(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    variants = params["ProductionVariants"]
    names = [variant["VariantName"] for variant in variants]
    if len(set(names)) != len(names):
        raise ValidationError(f"Variant names must be unique; got {names}.")
    for variant in variants:  # AWS checks the models exist when the config is created
        if not variant.get("ModelName"):
            raise ValidationError(f"Variant {variant['VariantName']} names no ModelName.")
        MODELS.get(engine, variant["ModelName"])
    arn = CONFIGS.arn(engine, params["EndpointConfigName"])
    record = CONFIGS.new(arn, copy.deepcopy(params))
    for variant in record["ProductionVariants"]:
        variant.setdefault("InitialVariantWeight", 1.0)
        variant.setdefault("InitialInstanceCount", 1)
    return {"EndpointConfigArn": CONFIGS.create(engine, record, params.get("Tags", []))}
