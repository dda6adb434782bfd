"""Attach-or-create decisions: wait, reuse or start the next attempt; never a duplicate."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from include.adult_income.operators import decide_job, registered_version


def not_found(name: str) -> ClientError:
    error = {"Error": {"Code": "ValidationException", "Message": f"Could not find {name}"}}
    return ClientError(error, "DescribeProcessingJob")


def describer(statuses: dict[str, str]):
    calls: list[str] = []

    def describe(name: str) -> dict:
        calls.append(name)
        if name not in statuses:
            raise not_found(name)
        return {"ProcessingJobName": name, "ProcessingJobStatus": statuses[name]}

    describe.calls = calls  # type: ignore[attr-defined]
    return describe


@pytest.mark.parametrize(
    ("existing", "verdict", "name"),
    [
        ({}, "create", "job"),
        ({"job": "InProgress"}, "attach", "job"),
        ({"job": "Stopping"}, "attach", "job"),
        ({"job": "Completed"}, "reuse", "job"),
        ({"job": "Failed"}, "create", "job-a2"),
        ({"job": "Stopped"}, "create", "job-a2"),
        ({"job": "Failed", "job-a2": "InProgress"}, "attach", "job-a2"),
        ({"job": "Failed", "job-a2": "Failed"}, "create", "job-a3"),
        ({"job": "Failed", "job-a2": "Completed"}, "reuse", "job-a2"),
    ],
)
def test_decision_per_existing_attempts(existing: dict, verdict: str, name: str) -> None:
    decided = decide_job("job", describer(existing), "ProcessingJobStatus")
    assert decided[:2] == (verdict, name)


def test_other_errors_are_not_mistaken_for_absence() -> None:
    def describe(name: str) -> dict:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "D")

    with pytest.raises(ClientError):
        decide_job("job", describe, "ProcessingJobStatus")


class FakeRegistry:
    """list_model_packages / describe_model_package over a dict of packages."""

    class Paginator:
        def __init__(self, packages: list[dict]) -> None:
            self.packages = packages

        def paginate(self, **_: object) -> list[dict]:
            summaries = [{"ModelPackageArn": p["ModelPackageArn"]} for p in self.packages]
            return [{"ModelPackageSummaryList": summaries}]

    def __init__(self, packages: list[dict]) -> None:
        self.packages = packages

    def get_paginator(self, name: str) -> Paginator:
        assert name == "list_model_packages"
        return self.Paginator(self.packages)

    def describe_model_package(self, ModelPackageName: str) -> dict:
        return next(p for p in self.packages if p["ModelPackageArn"] == ModelPackageName)


def test_a_training_job_is_registered_at_most_once() -> None:
    registry = FakeRegistry(
        [
            {"ModelPackageArn": "arn:1", "CustomerMetadataProperties": {"training_job": "t-1"}},
            {"ModelPackageArn": "arn:2", "CustomerMetadataProperties": {"training_job": "t-2"}},
        ]
    )
    assert registered_version(registry, "group", "t-2")["ModelPackageArn"] == "arn:2"
    assert registered_version(registry, "group", "t-3") is None
