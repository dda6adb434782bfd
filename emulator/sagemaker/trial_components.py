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
from emulator.sagemaker.errors import ResourceNotFound
from emulator.sagemaker.registry import action

KIND = lineage.TRIAL_COMPONENT
TRIAL_COMPONENTS = lineage.TRIAL_COMPONENTS
TRIAL_COMPONENTS.register("UpdateTrialComponent", "DeleteTrialComponent")


@action("CreateTrialComponent")
def create_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TrialComponentName"]
    display_name = params.get("DisplayName", name)
    return TRIAL_COMPONENTS.create_from(engine, params, DisplayName=display_name)


@action("DescribeTrialComponent")
def describe_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        component = TRIAL_COMPONENTS.get(engine, params["TrialComponentName"])
        return lineage.job_status(engine, component)


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
    return TRIAL_COMPONENTS.list(engine, params, components)
