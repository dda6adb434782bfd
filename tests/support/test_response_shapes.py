"""The response-shape checker finds what it must, and is wired to the emulator tests' clients."""

from __future__ import annotations

import datetime as dt

import botocore.session

from tests.conftest import RESPONSE_SHAPES
from tests.support.response_shapes import shape_problems

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def output_of(operation: str):
    return MODEL.operation_model(operation).output_shape


def test_missing_required_members_bad_enums_and_types_are_named() -> None:
    response = {
        "TrainingJobName": "t",
        "TrainingJobStatus": "Done",
        "CreationTime": "yesterday",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"},
        "Surprise": 1,
    }
    problems = shape_problems(response, output_of("DescribeTrainingJob"), "DescribeTrainingJob")
    assert "DescribeTrainingJob.TrainingJobArn: required member missing" in problems
    assert any("TrainingJobStatus: 'Done' is not one of" in p for p in problems)
    assert any("CreationTime: str" in p and "expected timestamp" in p for p in problems)
    assert "DescribeTrainingJob.Surprise: not a member of DescribeTrainingJobResponse" in problems


def test_a_well_formed_response_has_no_problems() -> None:
    now = dt.datetime.now(dt.UTC)
    response = {
        "Models": [
            {"ModelName": "m", "ModelArn": "arn:aws:sagemaker:r:1:model/m", "CreationTime": now}
        ]
    }
    assert shape_problems(response, output_of("ListModels"), "ListModels") == []


def test_the_emulator_tests_clients_are_checked(aws) -> None:
    before = RESPONSE_SHAPES.checked
    aws("sagemaker").list_models()
    assert RESPONSE_SHAPES.checked == before + 1
