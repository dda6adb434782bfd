"""The experiments and trials SageMaker makes itself, so that code which cleans them up finds them.

As the SageMaker developer guide describes them ("Experiments that SageMaker creates"), and as
the Amazon provider's example DAGs delete them:

- a pipeline execution whose definition has a ``PipelineExperimentConfig`` (the SDK's default:
  the pipeline's name and the execution's id): the experiment, then a trial per execution;
- a hyperparameter tuning job: the experiment ``<tuning job>-aws-tuning-job``, and for each of
  its training jobs the trial ``<training job>-aws-trial`` holding the job's trial component;
  an AutoML job likewise, its experiment ``<automl job>-aws-auto-ml-job``;
- a job whose ExperimentConfig names an experiment but no trial ("if not specified, a new trial
  is created"): the trial ``<job>-aws-trial`` in that experiment, holding the job's component.

Each carries its Source (the ARN and type of what made it). Made once: an experiment or trial
that exists already is used as it is.
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.experiments import EXPERIMENTS
from emulator.sagemaker.lineage import TRIAL_COMPONENT, key_of, trial_component_name
from emulator.sagemaker.trials import TRIALS, join

TUNING_SUFFIX = "-aws-tuning-job"
AUTOML_SUFFIX = "-aws-auto-ml-job"
TRIAL_SUFFIX = "-aws-trial"


def ensure_experiment(engine: Engine, name: str, source_arn: str, source_type: str) -> None:
    with engine.store.lock:
        if engine.store.find(EXPERIMENTS.kind, key_of(name)) is not None:
            return
        EXPERIMENTS.create_from(
            engine,
            {"ExperimentName": name},
            DisplayName=name,
            Source={"SourceArn": source_arn, "SourceType": source_type},
        )


def ensure_trial(
    engine: Engine, name: str, experiment: str, source_arn: str, source_type: str
) -> dict[str, Any] | None:
    """The trial (made if missing), or None when its experiment does not exist."""
    with engine.store.lock:
        found = engine.store.find(TRIALS.kind, key_of(name))
        if found is not None:
            return found
        parent = engine.store.find(EXPERIMENTS.kind, key_of(experiment))
        if parent is None:
            return None
        TRIALS.create_from(
            engine,
            {"TrialName": name},
            DisplayName=name,
            ExperimentName=parent["ExperimentName"],
            Source={"SourceArn": source_arn, "SourceType": source_type},
            _Components=[],
        )
        return engine.store.find(TRIALS.kind, key_of(name))


def for_pipeline_execution(
    engine: Engine, experiment: str | None, trial: str | None, execution_arn: str
) -> None:
    """A pipeline execution's experiment and trial, named by its PipelineExperimentConfig."""
    if not experiment:
        return
    ensure_experiment(
        engine, experiment, execution_arn.split("/execution/")[0], "SageMakerPipeline"
    )
    if trial:
        ensure_trial(engine, trial, experiment, execution_arn, "SageMakerPipelineExecution")


def for_tuning_job(engine: Engine, tuning_job_name: str, tuning_job_arn: str) -> None:
    ensure_experiment(engine, tuning_job_name + TUNING_SUFFIX, tuning_job_arn, "SageMakerTuningJob")


def for_tuning_training_job(engine: Engine, tuning_job_name: str, job_name: str) -> None:
    """One of the tuning job's training jobs: its trial, holding the job's trial component."""
    for_parent_training_job(engine, tuning_job_name + TUNING_SUFFIX, job_name)


def for_parent_training_job(engine: Engine, experiment: str, job_name: str) -> None:
    """A training job a tuning or AutoML job launched: its trial in that job's experiment."""
    job = engine.store.snapshot("TrainingJob", job_name)
    source = {"SourceArn": job["TrainingJobArn"], "SourceType": "SageMakerTrainingJob"}
    with engine.store.lock:
        component = engine.store.find(
            TRIAL_COMPONENT, key_of(trial_component_name("TrainingJob", job_name))
        )
        if component is not None:
            join_made_trial(engine, job_name, experiment, source, component)


def for_job_component(
    engine: Engine,
    job: dict[str, Any],
    job_name: str,
    source: dict[str, str],
    component: dict[str, Any],
) -> None:
    """A job whose ExperimentConfig names an experiment and no trial: the trial made for it."""
    config = job.get("ExperimentConfig", {})
    if config.get("ExperimentName") and not config.get("TrialName"):
        join_made_trial(engine, job_name, config["ExperimentName"], source, component)


def join_made_trial(
    engine: Engine,
    job_name: str,
    experiment: str,
    source: dict[str, str],
    component: dict[str, Any],
) -> None:
    trial_name = job_name + TRIAL_SUFFIX
    trial = ensure_trial(engine, trial_name, experiment, source["SourceArn"], source["SourceType"])
    if trial is not None:
        join(trial, component)
