"""Trials: Create/Describe/List/Update/DeleteTrial and Associate/DisassociateTrialComponent.

A trial belongs to one experiment (which must exist when it is created) and groups trial
components, a user's own or the ones SageMaker makes for jobs (lineage.py); a job whose
ExperimentConfig names an existing trial has its component associated with that trial when it
is created. A component may be in several trials. Names are unique without case (ARN
``experiment-trial/<name>``); a missing trial, or a missing experiment or component a request
names, is ResourceNotFound. As AWS keeps them, a trial with components cannot be deleted (they
must be disassociated first), nor a component that is linked to a trial (trial_components.py).
Associating twice or disassociating what is not associated changes nothing.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker import lineage
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.experiments import EXPERIMENTS, trials_of
from emulator.sagemaker.lineage import LineageEntity, key_of
from emulator.sagemaker.registry import action

KIND = "Trial"

TRIALS = LineageEntity(
    KIND,
    arn_type="experiment-trial",
    summary_keys=(
        "TrialArn",
        "TrialName",
        "DisplayName",
        "TrialSource",
        "CreationTime",
        "LastModifiedTime",
    ),
    optional=("MetadataProperties", "Source"),
    updated=("DisplayName",),
    mappings=(),
)
TRIALS.register("DescribeTrial", "UpdateTrial")


@action("CreateTrial")
def create_trial(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        experiment = EXPERIMENTS.get(engine, params["ExperimentName"])
        return TRIALS.create_from(
            engine,
            params,
            DisplayName=params.get("DisplayName", params["TrialName"]),
            ExperimentName=experiment["ExperimentName"],  # as the experiment spells it
            # The store keys of the trial's components, in the order they joined.
            _Components=[],
        )


def linked(engine: Engine, component: dict[str, Any]) -> list[dict[str, Any]]:
    """The live records of the trials ``component`` is in (under the store's lock)."""
    key = key_of(component["TrialComponentName"])
    return [t for t in engine.store.all(KIND) if key in t.get("_Components", [])]


def join(trial: dict[str, Any], component: dict[str, Any]) -> None:
    key = key_of(component["TrialComponentName"])
    if key not in trial.setdefault("_Components", []):
        trial["_Components"].append(key)


def join_by_name(engine: Engine, trial_name: str, component: dict[str, Any]) -> None:
    """A job's ExperimentConfig.TrialName: its component joins that trial, if it exists."""
    with engine.store.lock:
        trial = engine.store.find(KIND, key_of(trial_name))
        if trial is not None:
            join(trial, component)


def both(engine: Engine, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    trial = TRIALS.get(engine, params["TrialName"])
    component = lineage.TRIAL_COMPONENTS.get(engine, params["TrialComponentName"])
    return trial, component


@action("AssociateTrialComponent")
def associate_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        trial, component = both(engine, params)
        join(trial, component)
        return {"TrialComponentArn": component["TrialComponentArn"], "TrialArn": trial["TrialArn"]}


@action("DisassociateTrialComponent")
def disassociate_trial_component(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        trial, component = both(engine, params)
        key = key_of(component["TrialComponentName"])
        trial["_Components"] = [k for k in trial.get("_Components", []) if k != key]
        return {"TrialComponentArn": component["TrialComponentArn"], "TrialArn": trial["TrialArn"]}


@action("DeleteTrial")
def delete_trial(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        trial = TRIALS.get(engine, params["TrialName"])
        if trial.get("_Components"):
            raise ValidationError(
                f"Trial '{trial['TrialArn']}' is linked to 1 or more trial components and "
                "cannot be deleted."
            )
        return TRIALS.forget(engine, trial)


def component_keys(engine: Engine, params: dict[str, Any]) -> set[str] | None:
    """The store keys of the components in ListTrialComponents' TrialName or ExperimentName
    (under the store's lock); None: the request names neither."""
    if params.get("TrialName"):
        return set(TRIALS.get(engine, params["TrialName"]).get("_Components", []))
    if params.get("ExperimentName"):
        experiment = EXPERIMENTS.get(engine, params["ExperimentName"])
        return {key for trial in trials_of(engine, experiment) for key in trial["_Components"]}
    return None


@action("ListTrials")
def list_trials(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        if params.get("ExperimentName"):
            records = trials_of(engine, EXPERIMENTS.get(engine, params["ExperimentName"]))
        else:
            records = engine.store.all(KIND)
        if params.get("TrialComponentName"):
            component = lineage.TRIAL_COMPONENTS.get(engine, params["TrialComponentName"])
            wanted = key_of(component["TrialComponentName"])
            records = [r for r in records if wanted in r.get("_Components", [])]
        records = [lineage.public(r) for r in records]
    return TRIALS.list(engine, params, lineage.with_source(records, "TrialSource"))
