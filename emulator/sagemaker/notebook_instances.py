"""Notebook instances: Create/Describe/List/Update/Stop/Start/Delete NotebookInstance.

Only the record and its status are emulated: there is no notebook server behind ``Url`` (nor
an instance, volume or network interface), so the Jupyter URL leads nowhere and
CreatePresignedNotebookInstanceUrl is not served.

The status moves as AWS moves it, each transition taking ``TRANSITION_SECONDS`` in a thread
(AWS takes minutes): CreateNotebookInstance and StartNotebookInstance answer ``Pending`` that
becomes ``InService``; StopNotebookInstance ``Stopping`` -> ``Stopped``; UpdateNotebookInstance
``Updating`` -> ``Stopped``; DeleteNotebookInstance ``Deleting``, then the instance is gone and
DescribeNotebookInstance answers ValidationException "RecordNotFound", the error the
notebook_instance_deleted waiter takes for success. A call from the wrong status is refused
with AWS's ValidationException "Status (<status>) not in ([<allowed>]). Unable to transition to
(<next>) for Notebook Instance (<arn>)." An emulator restarted while a transition was under way
finishes it at once (``recovered``).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lifecycle import Resource, now
from emulator.sagemaker.registry import action

KIND = "NotebookInstance"
# Long enough for a client to see the in-between status, short enough for tests and DAGs.
TRANSITION_SECONDS = 1.0
# The status each in-between one settles into; None: the instance is gone.
SETTLES_TO: dict[str, str | None] = {
    "Pending": "InService",
    "Stopping": "Stopped",
    "Updating": "Stopped",
    "Deleting": None,
}

NOTEBOOK_INSTANCES = Resource(
    KIND,
    # AWS's answer for a name it does not know, verbatim (no name in it).
    missing="RecordNotFound",
    duplicate="Cannot create a duplicate Notebook Instance ({arn})",
    duplicate_error=ValidationError,
    list_key="NotebookInstances",
    summary_keys=(
        "NotebookInstanceName",
        "NotebookInstanceArn",
        "NotebookInstanceStatus",
        "Url",
        "InstanceType",
        "CreationTime",
        "LastModifiedTime",
        "NotebookInstanceLifecycleConfigName",
        "DefaultCodeRepository",
        "AdditionalCodeRepositories",
    ),
    status_key="NotebookInstanceStatus",
    # What DescribeNotebookInstance answers for the members a request may leave out.
    described_defaults={
        "DirectInternetAccess": "Enabled",
        "VolumeSizeInGB": 5,
        "RootAccess": "Enabled",
        "PlatformIdentifier": "notebook-al2-v2",
        "IpAddressType": "ipv4",
        # Without it AWS lets IMDSv1 in: the minimum is "1".
        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "1"},
    },
    hidden=("Generation",),  # which transition may still settle the instance
)
NOTEBOOK_INSTANCES.register("DescribeNotebookInstance")

# Request members the record keeps as given (Create and Update).
KEPT = (
    "InstanceType",
    "RoleArn",
    "SubnetId",
    "IpAddressType",
    "KmsKeyId",
    "DirectInternetAccess",
    "VolumeSizeInGB",
    "AcceleratorTypes",
    "DefaultCodeRepository",
    "AdditionalCodeRepositories",
    "RootAccess",
    "PlatformIdentifier",
    "InstanceMetadataServiceConfiguration",
)


def refuse(record: dict[str, Any], allowed: tuple[str, ...], target: str) -> None:
    """AWS's refusal of a transition to ``target`` from a status not in ``allowed``."""
    status = record["NotebookInstanceStatus"]
    if status not in allowed:
        raise ValidationError(
            f"Status ({status}) not in ([{', '.join(allowed)}]). Unable to transition to "
            f"({target}) for Notebook Instance ({record['NotebookInstanceArn']})."
        )


def settle(engine: Engine, name: str, generation: int) -> None:
    """The in-between status of ``generation`` becomes the one it settles into (or the
    instance goes), unless something else happened to the instance meanwhile."""
    with engine.store.lock:
        record = engine.store.find(KIND, name)
        if record is None or record.get("Generation") != generation:
            return
        settled = SETTLES_TO.get(record["NotebookInstanceStatus"], "")
        if settled is None:
            engine.store.delete(KIND, name)
            engine.tags.set(record["NotebookInstanceArn"], [])
        elif settled:
            record.update(NotebookInstanceStatus=settled, LastModifiedTime=now())


def move(engine: Engine, record: dict[str, Any], status: str) -> None:
    """Put the instance (held under the store's lock) in ``status``; a thread settles it."""
    generation = record.get("Generation", 0) + 1
    record.update(NotebookInstanceStatus=status, LastModifiedTime=now(), Generation=generation)
    name = record["NotebookInstanceName"]

    def later() -> None:
        time.sleep(TRANSITION_SECONDS)
        settle(engine, name, generation)

    threading.Thread(target=later, name=f"notebook-{name}", daemon=True).start()


def recovered(engine: Engine) -> int:
    """At a restart: every transition the previous emulator left under way is finished."""
    with engine.store.lock:
        moving = [
            (r["NotebookInstanceName"], r.get("Generation", 0))
            for r in engine.store.all(KIND)
            if r["NotebookInstanceStatus"] in SETTLES_TO
        ]
    for name, generation in moving:
        settle(engine, name, generation)
    return len(moving)


@action("CreateNotebookInstance")
def create_notebook_instance(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["NotebookInstanceName"]
    members: dict[str, Any] = {
        "NotebookInstanceName": name,
        "NotebookInstanceStatus": "Pending",
        "Url": f"{name.lower()}.notebook.{engine.region}.sagemaker.aws",
        **{key: params[key] for key in KEPT if key in params},
    }
    if "LifecycleConfigName" in params:
        members["NotebookInstanceLifecycleConfigName"] = params["LifecycleConfigName"]
    if "SubnetId" in params:
        # The instance's interface in the customer's subnet, with its security groups.
        members["SecurityGroups"] = list(params.get("SecurityGroupIds", []))
        members["NetworkInterfaceId"] = f"eni-{random.getrandbits(68):017x}"
    record = NOTEBOOK_INSTANCES.new(NOTEBOOK_INSTANCES.arn(engine, name), members)
    with engine.store.lock:
        arn = NOTEBOOK_INSTANCES.create(engine, record, params.get("Tags", []))
        move(engine, engine.store.find(KIND, name) or record, "Pending")
    return {"NotebookInstanceArn": arn}


def allowing(
    engine: Engine, params: dict[str, Any], allowed: tuple[str, ...], target: str
) -> dict[str, Any]:
    """The live record (under the store's lock) of the instance a request names, once its
    status is found to allow the transition to ``target`` (else AWS's refusal)."""
    record = NOTEBOOK_INSTANCES.get(engine, params["NotebookInstanceName"])
    refuse(record, allowed, target)
    return record


@action("StopNotebookInstance")
def stop_notebook_instance(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        move(engine, allowing(engine, params, ("InService",), "Stopping"), "Stopping")
    return {}


@action("StartNotebookInstance")
def start_notebook_instance(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = allowing(engine, params, ("Stopped", "Failed"), "Pending")
        record.pop("FailureReason", None)
        move(engine, record, "Pending")
    return {}


@action("UpdateNotebookInstance")
def update_notebook_instance(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = allowing(engine, params, ("Stopped",), "Updating")
        record.update({key: params[key] for key in KEPT if key in params})
        if "LifecycleConfigName" in params:
            record["NotebookInstanceLifecycleConfigName"] = params["LifecycleConfigName"]
        for flag, member in (
            ("DisassociateLifecycleConfig", "NotebookInstanceLifecycleConfigName"),
            ("DisassociateAcceleratorTypes", "AcceleratorTypes"),
            ("DisassociateDefaultCodeRepository", "DefaultCodeRepository"),
            ("DisassociateAdditionalCodeRepositories", "AdditionalCodeRepositories"),
        ):
            if params.get(flag):
                record.pop(member, None)
        move(engine, record, "Updating")
    return {}


@action("DeleteNotebookInstance")
def delete_notebook_instance(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        move(engine, allowing(engine, params, ("Stopped", "Failed"), "Deleting"), "Deleting")
    return {}


@action("ListNotebookInstances")
def list_notebook_instances(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        records = [dict(r) for r in engine.store.all(KIND)]
    contains = {
        "NotebookInstanceLifecycleConfigNameContains": "NotebookInstanceLifecycleConfigName",
        "DefaultCodeRepositoryContains": "DefaultCodeRepository",
    }
    for param, member in contains.items():
        if params.get(param):
            needle = params[param].lower()
            records = [r for r in records if needle in (r.get(member) or "").lower()]
    if params.get("AdditionalCodeRepositoryEquals"):
        wanted = params["AdditionalCodeRepositoryEquals"]
        records = [r for r in records if wanted in r.get("AdditionalCodeRepositories", [])]
    return NOTEBOOK_INSTANCES.list(engine, params, records)
