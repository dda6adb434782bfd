"""Trial components through boto3: a user's own (create, update, delete) beside the jobs' ones,
ListTrialComponents' SourceArn filter, sorting and pages, a missing experiment refused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import processing_request, wait_for


def test_user_trial_component_lifecycle(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"Manual-{uuid.uuid4().hex[:8]}"
    started = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    arn = sagemaker.create_trial_component(
        TrialComponentName=name,
        Status={"PrimaryStatus": "InProgress"},
        StartTime=started,
        Parameters={"lr": {"NumberValue": 0.1}},
    )["TrialComponentArn"]
    assert (
        arn == f"arn:aws:sagemaker:us-east-1:123456789012:experiment-trial-component/{name.lower()}"
    )
    sagemaker.update_trial_component(
        TrialComponentName=name,
        Status={"PrimaryStatus": "Completed"},
        Parameters={"depth": {"StringValue": "5"}},
        ParametersToRemove=["lr"],
        OutputArtifacts={"model": {"Value": "s3://b/model.tar.gz"}},
    )
    described = sagemaker.describe_trial_component(TrialComponentName=arn)
    assert described["TrialComponentName"] == name and described["DisplayName"] == name
    assert described["Status"] == {"PrimaryStatus": "Completed"}
    assert described["StartTime"] == started
    assert described["Parameters"] == {"depth": {"StringValue": "5"}}
    assert described["OutputArtifacts"] == {"model": {"Value": "s3://b/model.tar.gz"}}
    assert "Source" not in described
    assert sagemaker.delete_trial_component(TrialComponentName=name)["TrialComponentArn"] == arn
    with pytest.raises(ClientError) as error:
        sagemaker.describe_trial_component(TrialComponentName=name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_by_source_arn_follows_the_job_status(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"tc-{uuid.uuid4().hex[:8]}"
    request = {
        **processing_request(name, ["sleep", "30"]),
        "ExperimentConfig": {"TrialComponentDisplayName": "sleeper"},
    }
    arn = sagemaker.create_processing_job(**request)["ProcessingJobArn"]
    [running] = sagemaker.list_trial_components(SourceArn=arn)["TrialComponentSummaries"]
    assert running["Status"]["PrimaryStatus"] == "InProgress"
    assert running["DisplayName"] == "sleeper"
    assert running["TrialComponentName"] == f"{name}-aws-processing-job"
    sagemaker.stop_processing_job(ProcessingJobName=name)
    wait_for(
        lambda: sagemaker.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus"
    )
    [stopped] = sagemaker.list_trial_components(SourceArn=arn)["TrialComponentSummaries"]
    assert stopped["Status"]["PrimaryStatus"] == "Stopped"
    assert stopped["EndTime"] >= stopped["CreationTime"]


def test_list_sorts_and_pages_and_refuses_experiments(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]
    names = [f"zz-sort-{tag}-{i}" for i in range(3)]
    for name in names:
        sagemaker.create_trial_component(TrialComponentName=name)
    since = sagemaker.describe_trial_component(TrialComponentName=names[0])["CreationTime"]
    after = sagemaker.list_trial_components(
        CreatedAfter=since - dt.timedelta(microseconds=1), SortBy="Name", SortOrder="Ascending"
    )
    assert [t["TrialComponentName"] for t in after["TrialComponentSummaries"]][:3] == names
    page = sagemaker.list_trial_components(
        CreatedAfter=since - dt.timedelta(microseconds=1), SortBy="Name", MaxResults=1
    )
    assert len(page["TrialComponentSummaries"]) == 1 and "NextToken" in page
    with pytest.raises(ClientError) as error:
        sagemaker.list_trial_components(ExperimentName="no-such-experiment")
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
