"""Models: CreateModel / DescribeModel / DeleteModel / ListModels.

A container may name a ``ModelPackageName`` instead of an image: CreateModel resolves it, as
SageMaker does, to that package's ``InferenceSpecification.Containers`` (image, model data and
environment, the container's own ``Environment`` laid over the package's). The package must
exist and, being a versioned package, be ``Approved`` (the API reference: "For versioned
models, the value of this parameter must be set to Approved to deploy the model"). The resolved
containers are kept with the model (``resolved_containers``), so what a model serves does not
change when its package is later updated; DescribeModel answers the containers as requested.
"""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lifecycle import Resource, hosting_errors
from emulator.sagemaker.model_packages import PACKAGES
from emulator.sagemaker.registry import action
from emulator.sagemaker.response_defaults import filled

KIND = "Model"
# The record's own key for the resolved containers; never part of a response.
RESOLVED = "_ResolvedContainers"
# The members of a package's container that make the model's container.
PACKAGE_CONTAINER_MEMBERS = ("Image", "ModelDataUrl", "ModelDataSource", "Environment")


# What DescribeModel answers for members the request left out (the service's defaults): each
# container's Mode and Environment, and the network isolation flag.
CONTAINER_DEFAULTS: dict[str, Any] = {"Mode": "SingleModel", "Environment": {}}


MODELS = Resource(
    KIND,
    **hosting_errors("model"),
    list_key="Models",
    summary_keys=("ModelName", "ModelArn", "CreationTime"),
    modified=False,
)
MODELS.register("DeleteModel", "ListModels")


def resolve_package(engine: Engine, container: dict[str, Any]) -> list[dict[str, Any]]:
    """The inference containers a ``ModelPackageName`` container stands for."""
    name = container["ModelPackageName"]
    package = PACKAGES.get(engine, name)
    arn = package["ModelPackageArn"]
    status = package.get("ModelApprovalStatus", "PendingManualApproval")
    if package.get("ModelPackageGroupName") and status != "Approved":
        raise ValidationError(
            f"Model package {arn} has ModelApprovalStatus {status}; a versioned model package "
            "must be Approved to create a model from it (UpdateModelPackage "
            "ModelApprovalStatus=Approved)."
        )
    spec = package.get("InferenceSpecification") or {}
    if not spec.get("Containers"):
        raise ValidationError(f"Model package {arn} has no InferenceSpecification containers.")
    resolved = []
    for source in spec["Containers"]:
        target = {k: copy.deepcopy(source[k]) for k in PACKAGE_CONTAINER_MEMBERS if k in source}
        target["Environment"] = {
            **source.get("Environment", {}),
            **container.get("Environment", {}),
        }
        resolved.append(target)
    return resolved


def resolve_containers(engine: Engine, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers the model runs: as given, with each package resolved."""
    given = [params["PrimaryContainer"]] if "PrimaryContainer" in params else params["Containers"]
    resolved: list[dict[str, Any]] = []
    for container in given:
        if container.get("ModelPackageName"):
            resolved += resolve_package(engine, container)
        else:
            resolved.append(copy.deepcopy(container))
    return resolved


def served_containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """What hosting runs for a model record (models from before resolution: as given)."""
    if RESOLVED in model:
        return model[RESOLVED]
    return [model["PrimaryContainer"]] if "PrimaryContainer" in model else model["Containers"]


@action("CreateModel")
def create_model(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if "PrimaryContainer" not in params and not params.get("Containers"):
        raise ValidationError("Either PrimaryContainer or Containers must be specified.")
    arn = MODELS.arn(engine, params["ModelName"])
    resolved = resolve_containers(engine, params)
    record = MODELS.new(arn, {**copy.deepcopy(params), RESOLVED: resolved})
    return {"ModelArn": MODELS.create(engine, record, params.get("Tags", []))}


@action("DescribeModel")
def describe_model(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = MODELS.describe(engine, params["ModelName"])
    defaults: dict[str, Any] = {"Containers": [CONTAINER_DEFAULTS], "EnableNetworkIsolation": False}
    if "PrimaryContainer" in record:  # a model of Containers has no PrimaryContainer
        defaults["PrimaryContainer"] = CONTAINER_DEFAULTS
    return filled(record, defaults)
