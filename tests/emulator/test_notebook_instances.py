"""Notebook instances through boto3: the status moving Pending -> InService -> Stopping ->
Stopped -> Deleting -> gone, AWS's refusals from the wrong status, Describe's filled-in
members, Update, List and tags, the Amazon provider's four notebook operators, and a restart
finishing a transition under way."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.waiter
import pytest
from botocore.exceptions import ClientError

from emulator.sagemaker import recovery
from emulator.sagemaker.engine import Engine

ROLE = "arn:aws:iam::123456789012:role/notebook"


def wait_status(sagemaker: Any, name: str, wanted: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
        if described["NotebookInstanceStatus"] == wanted or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "ValidationException"
    return error.value.response["Error"]["Message"]


def test_lifecycle_and_refusals(aws) -> None:
    sagemaker = aws("sagemaker")
    name = f"Nb-{uuid.uuid4().hex[:8]}"
    arn = sagemaker.create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "ml"}],
    )["NotebookInstanceArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name.lower()}"
    pending = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert pending["NotebookInstanceStatus"] == "Pending"
    message = refused(lambda: sagemaker.stop_notebook_instance(NotebookInstanceName=name))
    assert message == (
        "Status (Pending) not in ([InService]). Unable to transition to (Stopping) for "
        f"Notebook Instance ({arn})."
    )
    described = wait_status(sagemaker, name, "InService")
    assert described["NotebookInstanceStatus"] == "InService"
    assert described["Url"] == f"{name.lower()}.notebook.us-east-1.sagemaker.aws"
    assert described["DirectInternetAccess"] == "Enabled"
    assert described["RootAccess"] == "Enabled"
    assert described["VolumeSizeInGB"] == 5
    assert described["PlatformIdentifier"] == "notebook-al2-v2"
    assert described["InstanceMetadataServiceConfiguration"] == {
        "MinimumInstanceMetadataServiceVersion": "1"
    }
    assert "NetworkInterfaceId" not in described and "Generation" not in described
    assert described["LastModifiedTime"] > described["CreationTime"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    message = refused(lambda: sagemaker.delete_notebook_instance(NotebookInstanceName=name))
    assert message == (
        "Status (InService) not in ([Stopped, Failed]). Unable to transition to (Deleting) for "
        f"Notebook Instance ({arn})."
    )
    assert "Status (InService) not in ([Stopped])" in refused(
        lambda: sagemaker.update_notebook_instance(NotebookInstanceName=name, VolumeSizeInGB=10)
    )
    assert "Status (InService) not in ([Stopped, Failed])" in refused(
        lambda: sagemaker.start_notebook_instance(NotebookInstanceName=name)
    )
    sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    assert wait_status(sagemaker, name, "Stopping")["NotebookInstanceStatus"] == "Stopping"
    assert wait_status(sagemaker, name, "Stopped")["NotebookInstanceStatus"] == "Stopped"

    sagemaker.update_notebook_instance(
        NotebookInstanceName=name, VolumeSizeInGB=10, InstanceType="ml.t3.large"
    )
    updating = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert updating["NotebookInstanceStatus"] == "Updating"
    updated = wait_status(sagemaker, name, "Stopped")
    assert (updated["VolumeSizeInGB"], updated["InstanceType"]) == (10, "ml.t3.large")

    sagemaker.start_notebook_instance(NotebookInstanceName=name)
    assert wait_status(sagemaker, name, "InService")["NotebookInstanceStatus"] == "InService"
    sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    wait_status(sagemaker, name, "Stopped")
    sagemaker.delete_notebook_instance(NotebookInstanceName=name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            status = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException"
            assert error.response["Error"]["Message"] == "RecordNotFound"
            break
        assert status["NotebookInstanceStatus"] == "Deleting"
        time.sleep(0.2)
    else:
        pytest.fail("the notebook instance was not deleted")
    assert refused(lambda: sagemaker.stop_notebook_instance(NotebookInstanceName=name)) == (
        "RecordNotFound"
    )


def test_duplicate_subnet_and_list(aws) -> None:
    sagemaker = aws("sagemaker")
    tag = uuid.uuid4().hex[:8]
    names = [f"nb-list-{tag}-{i}" for i in range(3)]
    for i, name in enumerate(names):
        extra = {"DefaultCodeRepository": "https://example.com/repo.git"} if i == 1 else {}
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name,
            InstanceType="ml.t3.medium",
            RoleArn=ROLE,
            SubnetId="subnet-0123456789abcdef0",
            SecurityGroupIds=["sg-0123456789abcdef0"],
            DirectInternetAccess="Disabled",
            **extra,
        )
    assert "Cannot create a duplicate Notebook Instance" in refused(
        lambda: sagemaker.create_notebook_instance(
            NotebookInstanceName=names[0], InstanceType="ml.t3.medium", RoleArn=ROLE
        )
    )
    described = sagemaker.describe_notebook_instance(NotebookInstanceName=names[0])
    assert described["NetworkInterfaceId"].startswith("eni-")
    assert described["SecurityGroups"] == ["sg-0123456789abcdef0"]
    assert described["DirectInternetAccess"] == "Disabled"

    listed = sagemaker.list_notebook_instances(
        NameContains=f"nb-list-{tag}", SortBy="Name", SortOrder="Ascending", MaxResults=2
    )
    assert [n["NotebookInstanceName"] for n in listed["NotebookInstances"]] == names[:2]
    rest = sagemaker.list_notebook_instances(
        NameContains=f"nb-list-{tag}",
        SortBy="Name",
        SortOrder="Ascending",
        NextToken=listed["NextToken"],
    )
    assert [n["NotebookInstanceName"] for n in rest["NotebookInstances"]] == names[2:]
    assert "NextToken" not in rest
    by_repo = sagemaker.list_notebook_instances(DefaultCodeRepositoryContains="example")
    assert [n["NotebookInstanceName"] for n in by_repo["NotebookInstances"]] == [names[1]]
    for name in names:
        wait_status(sagemaker, name, "InService")
    in_service = sagemaker.list_notebook_instances(
        NameContains=f"nb-list-{tag}", StatusEquals="InService"
    )
    assert len(in_service["NotebookInstances"]) == 3
    assert in_service["NotebookInstances"][0]["Url"].endswith(".sagemaker.aws")


@pytest.fixture
def quick_waiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's notebook operators wait with botocore's waiters, polling every 30 s and
    taking no interval of their own: poll every second instead."""
    wait = botocore.waiter.Waiter.wait

    def quick(self: botocore.waiter.Waiter, **kwargs: Any) -> None:
        kwargs.setdefault("WaiterConfig", {"Delay": 1, "MaxAttempts": 30})
        wait(self, **kwargs)

    monkeypatch.setattr(botocore.waiter.Waiter, "wait", quick)


def test_provider_notebook_operators(aws, connection, quick_waiters) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import (
        SageMakerCreateNotebookOperator,
        SageMakerDeleteNotebookOperator,
        SageMakerStartNoteBookOperator,
        SageMakerStopNotebookOperator,
    )

    sagemaker = aws("sagemaker")
    name = f"provider-nb-{uuid.uuid4().hex[:8]}"
    arn = SageMakerCreateNotebookOperator(
        task_id="create",
        instance_name=name,
        instance_type="ml.t3.medium",
        role_arn=ROLE,
        aws_conn_id=connection,
    ).execute({})
    assert arn.endswith(f"notebook-instance/{name}")
    status = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert status["NotebookInstanceStatus"] == "InService"
    SageMakerStopNotebookOperator(
        task_id="stop", instance_name=name, aws_conn_id=connection
    ).execute({})
    status = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert status["NotebookInstanceStatus"] == "Stopped"
    SageMakerStartNoteBookOperator(
        task_id="start", instance_name=name, aws_conn_id=connection
    ).execute({})
    status = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert status["NotebookInstanceStatus"] == "InService"
    SageMakerStopNotebookOperator(
        task_id="stop_again", instance_name=name, aws_conn_id=connection
    ).execute({})
    SageMakerDeleteNotebookOperator(
        task_id="delete", instance_name=name, aws_conn_id=connection
    ).execute({})
    with pytest.raises(ClientError) as error:
        sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    assert error.value.response["Error"]["Message"] == "RecordNotFound"


def test_a_restart_finishes_the_transitions_under_way(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    try:
        created = recovery.now()
        for name, status in (("starting", "Pending"), ("going", "Deleting"), ("up", "InService")):
            engine.store.create(
                "NotebookInstance",
                name,
                {
                    "NotebookInstanceName": name,
                    "NotebookInstanceArn": engine.arn("notebook-instance", name),
                    "NotebookInstanceStatus": status,
                    "CreationTime": created,
                    "LastModifiedTime": created,
                    "Generation": 3,
                },
            )
        counts = recovery.recover(engine)
        started = engine.store.snapshot("NotebookInstance", "starting")
        gone = engine.store.find("NotebookInstance", "going")
        up = engine.store.snapshot("NotebookInstance", "up")
    finally:
        engine.shutdown()
    assert counts["notebook instances"] == 2
    assert started["NotebookInstanceStatus"] == "InService"
    assert gone is None
    assert up["NotebookInstanceStatus"] == "InService"
