"""The champion look-up against the emulator's model registry through boto3: the newest Approved
version, never the asking run's own, and the evaluate job's inputs for it."""

from __future__ import annotations

import uuid

import pytest

from include.adult_income import champion

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def register(sm, group: str, status: str, run_id: str, model: str) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://bucket/{model}/model.tar.gz",
                    "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": f"s3://bucket/{model}/code.tgz"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"dag_id": "adult_income_pipeline", "run_id": run_id},
    )["ModelPackageArn"]


@pytest.fixture()
def group(aws) -> str:
    name = f"champion-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_model_package_group(ModelPackageGroupName=name)
    return name


def newest(aws, group: str, run_id: str = "scheduled__2026-12-04") -> champion.Champion | None:
    return champion.newest_approved(
        aws("sagemaker"), group, dag_id="adult_income_pipeline", run_id=run_id
    )


def test_a_missing_or_unapproved_group_has_no_champion(aws, group: str) -> None:
    assert newest(aws, "no-such-group") is None
    register(aws("sagemaker"), group, "PendingManualApproval", "run-1", "m1")
    register(aws("sagemaker"), group, "Rejected", "run-2", "m2")
    assert newest(aws, group) is None


def test_the_newest_approved_version_is_the_champion(aws, group: str) -> None:
    sm = aws("sagemaker")
    register(sm, group, "Approved", "run-1", "m1")
    second = register(sm, group, "Approved", "run-2", "m2")
    register(sm, group, "PendingManualApproval", "run-3", "m3")
    found = newest(aws, group)
    assert found == champion.Champion(
        model_package_arn=second,
        model_data_url="s3://bucket/m2/model.tar.gz",
        code_uri="s3://bucket/m2/code.tgz",
    )
    assert champion.evaluate_inputs(found, "s3://bucket/marker") == {
        "model": "s3://bucket/m2/model.tar.gz",
        "code": "s3://bucket/m2/code.tgz",
        "arn": second,
    }


def test_the_asking_runs_own_version_is_never_its_champion(aws, group: str) -> None:
    sm = aws("sagemaker")
    first = register(sm, group, "Approved", "run-1", "m1")
    register(sm, group, "Approved", "run-2", "m2")
    assert newest(aws, group, run_id="run-2").model_package_arn == first
    assert newest(aws, group, run_id="run-1").model_package_arn != first


def test_without_a_champion_the_inputs_point_at_the_marker() -> None:
    assert champion.evaluate_inputs(None, "s3://b/code/no-champion.txt") == {
        "model": "s3://b/code/no-champion.txt",
        "code": "s3://b/code/no-champion.txt",
        "arn": "",
    }


def test_a_package_without_model_data_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="arn:x has no container with ModelDataUrl"):
        champion.from_description(
            {"ModelPackageArn": "arn:x", "InferenceSpecification": {"Containers": [{}]}}
        )
