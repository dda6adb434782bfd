"""Trial components: Create/Describe/List/Update/Delete, and those SageMaker makes for jobs.

A processing, training or transform job gets ``<job name>-aws-<kind>-job`` when it is created
(lineage.py); its status and times are the job's own. ListTrialComponents filters by SourceArn
(how SDK code finds a job's component), by ExperimentName or TrialName (the components of that
trial, or of every trial of that experiment: trials.py; a missing one is ResourceNotFound), by
creation time, and sorts by Name or CreationTime. A component linked to a trial cannot be
deleted until it is disassociated, as AWS answers.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage, trials
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lineage import key_of
from emulator.sagemaker.registry import action

KIND = lineage.TRIAL_COMPONENT
TRIAL_COMPONENTS = lineage.TRIAL_COMPONENTS
TRIAL_COMPONENTS.register("UpdateTrialComponent")


@action("CreateTrialComponent")
def create_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TrialComponentName"]
    display_name = params.get("DisplayName", name)
    return TRIAL_COMPONENTS.create_from(engine, params, DisplayName=display_name)


@action("DeleteTrialComponent")
def delete_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        component = TRIAL_COMPONENTS.get(engine, params["TrialComponentName"])
        if trials.linked(engine, component):
            # AWS's wording (a trial component still in a trial).
            raise ValidationError(
                f"TrialComponent '{component['TrialComponentArn']}' is linked to 1 or more "
                "trials and cannot be deleted."
            )
        return TRIAL_COMPONENTS.forget(engine, component)


@action("DescribeTrialComponent")
def describe_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        component = TRIAL_COMPONENTS.get(engine, params["TrialComponentName"])
        return lineage.job_status(engine, component)


@action("ListTrialComponents")
def list_trial_components(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        records = engine.store.all(KIND)
        scope = trials.component_keys(engine, params)
        if scope is not None:
            records = [r for r in records if key_of(r["TrialComponentName"]) in scope]
        if params.get("SourceArn"):  # before reading each job: SDK code lists one job's
            records = [
                r for r in records if r.get("Source", {}).get("SourceArn") == params["SourceArn"]
            ]
        components = [lineage.job_status(engine, r) for r in records]
    return TRIAL_COMPONENTS.list(
        engine, params, lineage.with_source(components, "TrialComponentSource")
    )
