"""The group's current champion: its newest Approved model version, which a run's challenger is
measured against on the run's own test set (include/scripts/evaluate.py scores both).

The look-up skips versions registered by the run asking: clearing ``evaluate`` after the run
registered (and someone approved) its own version must not make the challenger its own champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What the evaluate job reads from its champion inputs when the group has no champion: SageMaker
# refuses a ProcessingInput whose S3 prefix holds no object, and a pipeline definition cannot
# leave an input out at run time, so both paths point them at this marker (a file beside the
# job scripts, uploaded with them) instead.
NO_CHAMPION_MARKER = "no-champion.txt"


@dataclass(frozen=True)
class Champion:
    """Where the champion's model and serving bundle (with its feature schema) live."""

    model_package_arn: str
    model_data_url: str
    # The serving bundle (inference.py + schema.json): its SAGEMAKER_SUBMIT_DIRECTORY.
    code_uri: str | None


def from_description(description: dict[str, Any]) -> Champion:
    """A DescribeModelPackage answer as a Champion (its first inference container)."""
    containers = description.get("InferenceSpecification", {}).get("Containers") or []
    if not containers or not containers[0].get("ModelDataUrl"):
        raise ValueError(f"{description['ModelPackageArn']} has no container with ModelDataUrl")
    container = containers[0]
    return Champion(
        model_package_arn=description["ModelPackageArn"],
        model_data_url=container["ModelDataUrl"],
        code_uri=(container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY"),
    )


def is_own_run(description: dict[str, Any], dag_id: str, run_id: str) -> bool:
    metadata = description.get("CustomerMetadataProperties") or {}
    return metadata.get("dag_id") == dag_id and metadata.get("run_id") == run_id


def newest_approved(sagemaker: Any, group: str, *, dag_id: str, run_id: str) -> Champion | None:
    """The group's newest Approved version not registered by (dag_id, run_id); None if the group
    is missing or has none."""
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        ModelPackageType="Versioned",
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    # ListModelPackages answers an empty list for a group that does not exist yet.
    for page in pages:
        for summary in page["ModelPackageSummaryList"]:
            description = sagemaker.describe_model_package(
                ModelPackageName=summary["ModelPackageArn"]
            )
            if not is_own_run(description, dag_id, run_id):
                return from_description(description)
    return None


def evaluate_inputs(champion: Champion | None, marker_uri: str) -> dict[str, str]:
    """The evaluate job's champion inputs: its model and its bundle, or the marker."""
    if champion is None:
        return {"model": marker_uri, "code": marker_uri, "arn": ""}
    return {
        "model": champion.model_data_url,
        "code": champion.code_uri or marker_uri,
        "arn": champion.model_package_arn,
    }
