"""Experiments and trials through boto3: create, describe, update, list (filters, sorting,
pages), trial components associated and disassociated, ListTrialComponents by experiment and
trial, AWS's refusals to delete what still holds something, and a job's component joining the
trial its ExperimentConfig names."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import processing_request


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def test_experiment_lifecycle(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"Exp-{uuid.uuid4().hex[:8]}"
    arn = sagemaker.create_experiment(
        ExperimentName=name, Description="first", Tags=[{"Key": "k", "Value": "v"}]
    )["ExperimentArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:experiment/{name.lower()}"
    described = sagemaker.describe_experiment(ExperimentName=name.lower())
    assert described["ExperimentName"] == name and described["DisplayName"] == name
    assert described["Description"] == "first" and "Source" not in described
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    code, message = error_of(lambda: sagemaker.create_experiment(ExperimentName=name))
    assert code == "ValidationException" and "already exists" in message
    sagemaker.update_experiment(
        ExperimentName=name.upper(), DisplayName="Shown", Description="second"
    )
    updated = sagemaker.describe_experiment(ExperimentName=name)
    assert (updated["DisplayName"], updated["Description"]) == ("Shown", "second")
    assert updated["LastModifiedTime"] >= updated["CreationTime"]
    assert sagemaker.delete_experiment(ExperimentName=name)["ExperimentArn"] == arn
    code, message = error_of(lambda: sagemaker.describe_experiment(ExperimentName=name))
    assert (code, message) == ("ResourceNotFound", f"Experiment '{name}' does not exist.")


def test_list_experiments_sorts_and_pages(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]
    names = [f"aa-list-{tag}-{i}" for i in range(3)]
    for name in names:
        sagemaker.create_experiment(ExperimentName=name)
    since = sagemaker.describe_experiment(ExperimentName=names[0])["CreationTime"]
    first = sagemaker.list_experiments(
        CreatedAfter=since - since.resolution,
        SortBy="Name",
        SortOrder="Ascending",
        MaxResults=2,
    )
    assert [e["ExperimentName"] for e in first["ExperimentSummaries"]] == names[:2]
    rest = sagemaker.list_experiments(
        CreatedAfter=since - since.resolution,
        SortBy="Name",
        SortOrder="Ascending",
        NextToken=first["NextToken"],
    )
    assert [e["ExperimentName"] for e in rest["ExperimentSummaries"]][:1] == names[2:]
    newest = sagemaker.list_experiments(MaxResults=1)["ExperimentSummaries"][0]
    assert newest["ExperimentName"] == names[-1] and newest["DisplayName"] == names[-1]


def test_trials_and_their_components(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]
    experiment, other = f"exp-{tag}", f"exp-other-{tag}"
    sagemaker.create_experiment(ExperimentName=experiment)
    sagemaker.create_experiment(ExperimentName=other)
    code, message = error_of(
        lambda: sagemaker.create_trial(TrialName=f"t-{tag}", ExperimentName="no-such-exp")
    )
    assert (code, message) == ("ResourceNotFound", "Experiment 'no-such-exp' does not exist.")
    trial_arn = sagemaker.create_trial(
        TrialName=f"trial-{tag}", ExperimentName=experiment.upper(), DisplayName="One"
    )["TrialArn"]
    assert trial_arn.endswith(f":experiment-trial/trial-{tag}")
    sagemaker.create_trial(TrialName=f"trial2-{tag}", ExperimentName=other)
    described = sagemaker.describe_trial(TrialName=f"trial-{tag}")
    assert described["ExperimentName"] == experiment and described["DisplayName"] == "One"
    sagemaker.update_trial(TrialName=f"trial-{tag}", DisplayName="Uno")
    assert sagemaker.describe_trial(TrialName=f"TRIAL-{tag}")["DisplayName"] == "Uno"

    components = [f"tc-{tag}-{i}" for i in range(2)]
    for component in components:
        sagemaker.create_trial_component(TrialComponentName=component)
    answer = sagemaker.associate_trial_component(
        TrialComponentName=components[0], TrialName=f"trial-{tag}"
    )
    assert answer["TrialArn"] == trial_arn
    sagemaker.associate_trial_component(
        TrialComponentName=components[0], TrialName=f"trial-{tag}"
    )  # twice: nothing changes
    sagemaker.associate_trial_component(TrialComponentName=components[1], TrialName=f"trial2-{tag}")
    by_trial = sagemaker.list_trial_components(TrialName=f"trial-{tag}")
    assert [c["TrialComponentName"] for c in by_trial["TrialComponentSummaries"]] == [components[0]]
    by_experiment = sagemaker.list_trial_components(ExperimentName=other)
    assert [c["TrialComponentName"] for c in by_experiment["TrialComponentSummaries"]] == [
        components[1]
    ]
    trials = sagemaker.list_trials(ExperimentName=experiment)["TrialSummaries"]
    assert [(t["TrialName"], t["DisplayName"]) for t in trials] == [(f"trial-{tag}", "Uno")]
    trials = sagemaker.list_trials(TrialComponentName=components[1])["TrialSummaries"]
    assert [t["TrialName"] for t in trials] == [f"trial2-{tag}"]
    code, _ = error_of(lambda: sagemaker.list_trials(ExperimentName="no-such-exp"))
    assert code == "ResourceNotFound"
    code, _ = error_of(lambda: sagemaker.list_trial_components(TrialName="no-such-trial"))
    assert code == "ResourceNotFound"

    code, message = error_of(
        lambda: sagemaker.delete_trial_component(TrialComponentName=components[0])
    )
    assert code == "ValidationException"
    assert message.endswith("is linked to 1 or more trials and cannot be deleted.")
    code, message = error_of(lambda: sagemaker.delete_trial(TrialName=f"trial-{tag}"))
    assert code == "ValidationException" and "cannot be deleted" in message
    code, message = error_of(lambda: sagemaker.delete_experiment(ExperimentName=experiment))
    assert code == "ValidationException" and "has 1 or more trials" in message

    sagemaker.disassociate_trial_component(
        TrialComponentName=components[0], TrialName=f"trial-{tag}"
    )
    assert (
        sagemaker.list_trial_components(TrialName=f"trial-{tag}")["TrialComponentSummaries"] == []
    )
    sagemaker.delete_trial_component(TrialComponentName=components[0])
    assert sagemaker.delete_trial(TrialName=f"trial-{tag}")["TrialArn"] == trial_arn
    sagemaker.delete_experiment(ExperimentName=experiment)
    code, _ = error_of(lambda: sagemaker.describe_trial(TrialName=f"trial-{tag}"))
    assert code == "ResourceNotFound"


def test_job_component_joins_its_trial(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]
    sagemaker.create_experiment(ExperimentName=f"jobs-{tag}")
    sagemaker.create_trial(TrialName=f"run-{tag}", ExperimentName=f"jobs-{tag}")
    job = f"exp-job-{tag}"
    request = {
        **processing_request(job, ["true"]),
        "ExperimentConfig": {"ExperimentName": f"jobs-{tag}", "TrialName": f"run-{tag}"},
    }
    sagemaker.create_processing_job(**request)
    listed = sagemaker.list_trial_components(ExperimentName=f"jobs-{tag}")
    assert [c["TrialComponentName"] for c in listed["TrialComponentSummaries"]] == [
        f"{job}-aws-processing-job"
    ]
    trials = sagemaker.list_trials(TrialComponentName=f"{job}-aws-processing-job")
    assert [t["TrialName"] for t in trials["TrialSummaries"]] == [f"run-{tag}"]
