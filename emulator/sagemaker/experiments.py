"""Experiments: Create/Describe/List/Update/DeleteExperiment.

An experiment is a named group of trials (trials.py), each a group of trial components. Names
are unique without case, as their ARNs (``experiment/<name>``) are; a missing one is
ResourceNotFound "Experiment '<name>' does not exist.", a taken one ValidationException "...
already exists" (what SDK 2's load-or-create matches). An experiment that still has trials
cannot be deleted: AWS makes the caller delete them first. An experiment SageMaker itself made
carries its Source (SourceArn, SourceType), answered in ListExperiments as ExperimentSource.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.lineage import LineageEntity, key_of, with_source
from emulator.sagemaker.registry import action

KIND = "Experiment"

EXPERIMENTS = LineageEntity(
    KIND,
    summary_keys=(
        "ExperimentArn",
        "ExperimentName",
        "DisplayName",
        "ExperimentSource",
        "CreationTime",
        "LastModifiedTime",
    ),
    optional=("Description", "Source"),
    updated=("DisplayName", "Description"),
    mappings=(),
)
EXPERIMENTS.register("DescribeExperiment", "UpdateExperiment")


@action("CreateExperiment")
def create_experiment(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    # DisplayName: "if not specified, ExperimentName is displayed"; the service answers it.
    display_name = params.get("DisplayName", params["ExperimentName"])
    return EXPERIMENTS.create_from(engine, params, DisplayName=display_name)


def trials_of(engine: Engine, experiment: dict[str, Any]) -> list[dict[str, Any]]:
    """The live records of the experiment's trials (under the store's lock)."""
    key = key_of(experiment["ExperimentName"])
    return [t for t in engine.store.all("Trial") if key_of(t["ExperimentName"]) == key]


@action("DeleteExperiment")
def delete_experiment(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        experiment = EXPERIMENTS.get(engine, params["ExperimentName"])
        if trials_of(engine, experiment):
            raise ValidationError(
                f"Experiment '{experiment['ExperimentArn']}' has 1 or more trials and cannot be "
                "deleted."
            )
        return EXPERIMENTS.forget(engine, experiment)


@action("ListExperiments")
def list_experiments(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        records = [dict(r) for r in engine.store.all(KIND)]
    return EXPERIMENTS.list(engine, params, with_source(records, "ExperimentSource"))
