"""The model registry: model package groups and their versioned model packages."""

from __future__ import annotations

import copy
from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import list_response
from emulator.sagemaker.registry import action

GROUP = "ModelPackageGroup"
PACKAGE = "ModelPackage"
APPROVAL_STATUSES = {"Approved", "Rejected", "PendingManualApproval"}


def group_missing(name: str) -> str:
    return f"ModelPackageGroup {name} does not exist."


@action("CreateModelPackageGroup")
def create_group(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageGroupName"]
    arn = engine.arn("model-package-group", name)
    record = {
        "ModelPackageGroupName": name,
        "ModelPackageGroupArn": arn,
        "ModelPackageGroupDescription": params.get("ModelPackageGroupDescription", ""),
        "CreationTime": now(),
        "ModelPackageGroupStatus": "Completed",
        "CreatedBy": {},
    }
    engine.store.create(
        GROUP,
        name,
        record,
        duplicate_error=ValidationError,
        duplicate_message=f"Model Package Group already exists: {arn}",
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"ModelPackageGroupArn": arn}


@action("DescribeModelPackageGroup")
def describe_group(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageGroupName"]
    return engine.store.snapshot(GROUP, name, missing_message=group_missing(name))


@action("DeleteModelPackageGroup")
def delete_group(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageGroupName"]
    engine.store.get(GROUP, name, missing_message=group_missing(name))
    if any(p.get("ModelPackageGroupName") == name for p in engine.store.all(PACKAGE)):
        raise ValidationError(f"Model Package Group {name} has model packages; delete them first.")
    engine.store.delete(GROUP, name)
    return {}


@action("ListModelPackageGroups")
def list_groups(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return list_response(
        engine.store.all(GROUP),
        params,
        list_key="ModelPackageGroupSummaryList",
        summary_keys=(
            "ModelPackageGroupName",
            "ModelPackageGroupArn",
            "ModelPackageGroupDescription",
            "CreationTime",
            "ModelPackageGroupStatus",
        ),
        name_key="ModelPackageGroupName",
    )


def package_key(arn_or_name: str) -> str:
    """Packages are looked up by ARN (versioned) or by name (unversioned)."""
    return arn_or_name.split(":model-package/", 1)[-1].lower()


@action("CreateModelPackage")
def create_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    group = params.get("ModelPackageGroupName")
    if not group:
        raise ValidationError("Only versioned model packages (ModelPackageGroupName) are emulated.")
    group_name = group.split("/")[-1]
    with engine.store.lock:
        engine.store.get(GROUP, group_name, missing_message=group_missing(group_name))
        version = 1 + sum(
            1 for p in engine.store.all(PACKAGE) if p["ModelPackageGroupName"] == group_name
        )
        arn = engine.arn("model-package", f"{group_name}/{version}")
        created = now()
        record = {
            **copy.deepcopy(params),
            "ModelPackageGroupName": group_name,
            "ModelPackageName": group_name,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ModelApprovalStatus": params.get("ModelApprovalStatus", "PendingManualApproval"),
            "CreationTime": created,
            "LastModifiedTime": created,
            "CertifyForMarketplace": params.get("CertifyForMarketplace", False),
        }
        for key in ("Tags", "ClientToken"):
            record.pop(key, None)
        engine.store.create(PACKAGE, package_key(arn), record)
        lineage.record_model_package(engine, record)
    engine.tags.set(arn, params.get("Tags", []))
    return {"ModelPackageArn": arn}


def get_package(engine: Engine, name: str) -> dict[str, Any]:
    return engine.store.get(
        PACKAGE, package_key(name), missing_message=f"ModelPackage {name} does not exist."
    )


@action("DescribeModelPackage")
def describe_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    get_package(engine, params["ModelPackageName"])
    return engine.store.snapshot(PACKAGE, package_key(params["ModelPackageName"]))


@action("UpdateModelPackage")
def update_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_package(engine, params["ModelPackageArn"])
    key = package_key(params["ModelPackageArn"])

    def change(package: dict[str, Any]) -> None:
        for field in ("ModelApprovalStatus", "ApprovalDescription", "InferenceSpecification"):
            if field in params:
                package[field] = copy.deepcopy(params[field])
        properties = package.setdefault("CustomerMetadataProperties", {})
        properties.update(params.get("CustomerMetadataProperties", {}))
        for removed in params.get("CustomerMetadataPropertiesToRemove", []):
            properties.pop(removed, None)
        package["LastModifiedTime"] = now()

    engine.store.update(PACKAGE, key, change)
    return {"ModelPackageArn": record["ModelPackageArn"]}


@action("DeleteModelPackage")
def delete_package(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    get_package(engine, params["ModelPackageName"])
    engine.store.delete(PACKAGE, package_key(params["ModelPackageName"]))
    return {}


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
    return list_response(
        records,
        params,
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
        name_key="ModelPackageName",
    )
