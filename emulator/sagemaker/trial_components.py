"""Trial components: Create/Describe/List/Update/Delete, and those SageMaker makes for jobs.

A processing, training or transform job gets ``<job name>-aws-<kind>-job`` when it is created
(lineage.py); its status and times are the job's own. ListTrialComponents filters by SourceArn
(how SDK code finds a job's component), creation time, and sorts by Name or CreationTime.
Experiments and trials are not emulated, so ExperimentName / TrialName name nothing here.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import created_window, list_response
from emulator.sagemaker.registry import action

KIND = lineage.TRIAL_COMPONENT
SUMMARY_KEYS = (
    "TrialComponentName",
    "TrialComponentArn",
    "DisplayName",
    "TrialComponentSource",
    "Status",
    "StartTime",
    "EndTime",
    "CreationTime",
    "CreatedBy",
    "LastModifiedTime",
    "LastModifiedBy",
)


def missing(name: str) -> str:
    return f"Trial component '{name}' does not exist."


def find(engine: Engine, name_or_arn: str) -> dict[str, Any]:
    record = engine.store.find(KIND, lineage.name_from(name_or_arn))
    if record is None:
        raise ResourceNotFound(missing(name_or_arn))
    return record


@action("CreateTrialComponent")
def create_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TrialComponentName"]
    arn = engine.arn("experiment-trial-component", name)
    created = now()
    record = {
        "TrialComponentName": name,
        "TrialComponentArn": arn,
        "DisplayName": params.get("DisplayName", name),
        "CreationTime": created,
        "CreatedBy": {},
        "LastModifiedTime": created,
        "LastModifiedBy": {},
        "Parameters": params.get("Parameters", {}),
        "InputArtifacts": params.get("InputArtifacts", {}),
        "OutputArtifacts": params.get("OutputArtifacts", {}),
    }
    for key in ("Status", "StartTime", "EndTime", "MetadataProperties"):
        if key in params:
            record[key] = params[key]
    engine.store.create(
        KIND,
        lineage.key_of(name),
        record,
        duplicate_error=ValidationError,
        duplicate_message=f"Trial component with name {name} already exists.",
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"TrialComponentArn": arn}


@action("DescribeTrialComponent")
def describe_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        return lineage.job_status(engine, find(engine, params["TrialComponentName"]))


@action("ListTrialComponents")
def list_trial_components(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    for scope in ("ExperimentName", "TrialName"):
        if params.get(scope):
            kind = "Experiment" if scope == "ExperimentName" else "Trial"
            raise ResourceNotFound(f"{kind} '{params[scope]}' does not exist.")
    with engine.store.lock:
        records = engine.store.all(KIND)
        if params.get("SourceArn"):  # before reading each job: SDK code lists one job's
            records = [
                r for r in records if r.get("Source", {}).get("SourceArn") == params["SourceArn"]
            ]
        components = [lineage.job_status(engine, r) for r in records]
    for component in components:
        if "Source" in component:
            component["TrialComponentSource"] = component["Source"]
    return list_response(
        components,
        created_window(params),
        list_key="TrialComponentSummaries",
        summary_keys=SUMMARY_KEYS,
        name_key="TrialComponentName",
    )


@action("UpdateTrialComponent")
def update_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["TrialComponentName"])
        for key in ("DisplayName", "Status", "StartTime", "EndTime"):
            if key in params:
                record[key] = params[key]
        for key in ("Parameters", "InputArtifacts", "OutputArtifacts"):
            values = record.setdefault(key, {})
            values.update(params.get(key, {}))
            for removed in params.get(f"{key}ToRemove", []):
                values.pop(removed, None)
        record["LastModifiedTime"] = now()
        return {"TrialComponentArn": record["TrialComponentArn"]}


@action("DeleteTrialComponent")
def delete_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        record = find(engine, params["TrialComponentName"])
        arn = record["TrialComponentArn"]
        engine.store.delete(KIND, lineage.key_of(record["TrialComponentName"]))
        lineage.drop_associations(engine, arn)
    return {"TrialComponentArn": arn}
