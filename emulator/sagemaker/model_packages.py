"""The model registry: model package groups and their versioned model packages."""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lifecycle import Resource, now
from emulator.sagemaker.registry import action

GROUP = "ModelPackageGroup"
PACKAGE = "ModelPackage"
APPROVAL_STATUSES = {"Approved", "Rejected", "PendingManualApproval"}


def package_key(arn_or_name: str) -> str:
    """Packages are looked up by ARN (versioned) or by name (unversioned)."""
    return arn_or_name.split(":model-package/", 1)[-1].lower()


GROUPS = Resource(
    GROUP,
    missing="ModelPackageGroup {name} does not exist.",
    duplicate="Model Package Group already exists: {arn}",
    duplicate_error=ValidationError,
    list_key="ModelPackageGroupSummaryList",
    summary_keys=(
        "ModelPackageGroupName",
        "ModelPackageGroupArn",
        "ModelPackageGroupDescription",
        "CreationTime",
        "ModelPackageGroupStatus",
    ),
    modified=False,
)
PACKAGES = Resource(
    PACKAGE,
    missing="ModelPackage {name} does not exist.",
    key=package_key,
    list_key="ModelPackageSummaryList",
    summary_keys=(
        "ModelPackageName",
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelPackageDescription",
        "CreationTime",
        "ModelPackageStatus",
        "ModelApprovalStatus",
    ),
)
GROUPS.register("DescribeModelPackageGroup", "ListModelPackageGroups")
PACKAGES.register("DescribeModelPackage", "DeleteModelPackage")


@action("CreateModelPackageGroup")
def create_group(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageGroupName"]
    record = GROUPS.new(
        GROUPS.arn(engine, name),
        {
            "ModelPackageGroupName": name,
            "ModelPackageGroupDescription": params.get("ModelPackageGroupDescription", ""),
            "ModelPackageGroupStatus": "Completed",
            "CreatedBy": {},
        },
    )
    return {"ModelPackageGroupArn": GROUPS.create(engine, record, params.get("Tags", []))}


@action("DeleteModelPackageGroup")
def delete_group(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageGroupName"]

    def empty(group: dict[str, Any]) -> None:
        if any(p.get("ModelPackageGroupName") == name for p in engine.store.all(PACKAGE)):
            raise ValidationError(
                f"Model Package Group {name} has model packages; delete them first."
            )

    GROUPS.delete(engine, name, check=empty)
    return {}


@action("CreateModelPackage")
def create_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    group = params.get("ModelPackageGroupName")
    if not group:
        raise ValidationError("Only versioned model packages (ModelPackageGroupName) are emulated.")
    group_name = group.split("/")[-1]
    with engine.store.lock:
        GROUPS.get(engine, group_name)
        version = 1 + sum(
            1 for p in engine.store.all(PACKAGE) if p["ModelPackageGroupName"] == group_name
        )
        arn = PACKAGES.arn(engine, f"{group_name}/{version}")
        members = {
            **copy.deepcopy(params),
            "ModelPackageGroupName": group_name,
            "ModelPackageName": group_name,
            "ModelPackageVersion": version,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ModelApprovalStatus": params.get("ModelApprovalStatus", "PendingManualApproval"),
            "CertifyForMarketplace": params.get("CertifyForMarketplace", False),
        }
        members.pop("ClientToken", None)
        record = PACKAGES.new(arn, members)
        PACKAGES.create(engine, record, params.get("Tags", []), key=package_key(arn))
        lineage.record_model_package(engine, record)
    return {"ModelPackageArn": arn}


@action("UpdateModelPackage")
def update_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        package = PACKAGES.get(engine, params["ModelPackageArn"])
        for field in ("ModelApprovalStatus", "ApprovalDescription", "InferenceSpecification"):
            if field in params:
                package[field] = copy.deepcopy(params[field])
        properties = package.setdefault("CustomerMetadataProperties", {})
        properties.update(params.get("CustomerMetadataProperties", {}))
        for removed in params.get("CustomerMetadataPropertiesToRemove", []):
            properties.pop(removed, None)
        package["LastModifiedTime"] = now()
        return {"ModelPackageArn": package["ModelPackageArn"]}


@action("ListModelPackages")
def list_packages(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    records = engine.store.all(PACKAGE)
    if params.get("ModelPackageGroupName"):
        group = params["ModelPackageGroupName"].split("/")[-1]
        records = [r for r in records if r["ModelPackageGroupName"] == group]
    if params.get("ModelApprovalStatus"):
        records = [r for r in records if r["ModelApprovalStatus"] == params["ModelApprovalStatus"]]
    if params.get("ModelPackageType") == "Unversioned":
        records = []  # only versioned packages exist here
    return PACKAGES.list(engine, params, records)
