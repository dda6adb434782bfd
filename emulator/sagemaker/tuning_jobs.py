"""Hyperparameter tuning jobs: Create/Describe/List/Stop/Delete, their training jobs really run.

A tuning job is a loop on its own thread (like a pipeline execution) that launches training
jobs through the engine's own CreateTrainingJob (validated like a client's request), so they
are ordinary training jobs: named ``<tuning job>-<NNN>-<8 hex>`` as SageMaker names them, with
``TuningJobArn`` in their description, the tuning job's tags, and the hyperparameters of the
training job definition (static ones, the strategy's choice for the tuned ones, and
``_tuning_objective_metric``, which SageMaker adds). At most MaxParallelTrainingJobs run at once,
and never more than the emulator runs at once (``--max-jobs``), so a queued job is never taken
for a running one; MaxNumberOfTrainingJobs (for Grid: the number of combinations) bounds them
all.

Each job's objective is read as SageMaker reads it, from the job's metrics: the built-in
algorithm's ``validation:auc``-style names, or MetricDefinitions regexes over the log
(training_metrics.py); the final value is the last one logged. Running jobs are read as they
log, for ``TrainingJobEarlyStoppingType: Auto`` (the median rule) and for Hyperband's rungs
(tuning_strategies.py); a job stopped early ends Stopped with the objective it had reached.

The tuning job ends Completed when its jobs are done (or MaxRuntimeInSeconds, or a
TuningJobCompletionCriteria, ends the search), Failed when no job produced an objective, and
Stopped after StopHyperParameterTuningJob, which stops its running jobs. A definition's
HyperParameterTuningResourceConfig (what SDK 2's tuner sends in place of ResourceConfig) gives
each training job its ResourceConfig; of its InstanceConfigs, the Prioritized allocation takes
the first, as SageMaker does while it has the capacity (the emulator always has). Describe's
StaticHyperParameters include ``_tuning_objective_metric``, as SageMaker's do (SDK 2's
``HyperparameterTuner.attach`` removes it). Not emulated (refused at create): several
TrainingJobDefinitions, WarmStartConfig, Autotune / AutoParameters; ConvergenceDetected is
accepted but never detected.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.algorithms import xgboost_builtin
from emulator.sagemaker import (
    images,
    jobs,
    protocol,
    service_experiments,
    training_jobs,
    training_metrics,
)
from emulator.sagemaker import tuning_strategies as strategies
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, SageMakerError, ValidationError
from emulator.sagemaker.lifecycle import Resource, public
from emulator.sagemaker.listing import list_records, paged
from emulator.sagemaker.registry import action

KIND = "HyperParameterTuningJob"
TRAINING = "TrainingJob"
POLL_SECONDS = 0.2
# What HyperbandStrategyConfig.MaxResource is inferred from when absent, as SageMaker documents.
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
RUNNING = {"InProgress", "Stopping"}
OBJECTIVE_KEY = "_tuning_objective_metric"
# The members of a HyperParameterTrainingJobDefinition that CreateTrainingJob takes as they are.
COPIED_MEMBERS = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


TUNING_JOBS = Resource(
    KIND,
    missing="Amazon SageMaker can't find a tuning job with name {name}",
    missing_error=ResourceNotFound,
    duplicate="Hyperparameter tuning job names must be unique within an AWS account and region, "
    "and a tuning job with this name already exists ({arn})",
    summary_keys=(
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobArn",
        "HyperParameterTuningJobStatus",
        "Strategy",
        "CreationTime",
        "HyperParameterTuningEndTime",
        "LastModifiedTime",
        "TrainingJobStatusCounters",
        "ObjectiveStatusCounters",
        "ResourceLimits",
    ),
    status_key="HyperParameterTuningJobStatus",
)
TUNING_JOBS.register("DescribeHyperParameterTuningJob")


def get_record(engine: Engine, name: str) -> dict[str, Any]:
    return TUNING_JOBS.get(engine, name)


# --- what a request asks for, checked as SageMaker checks it -----------------------------------
@dataclass
class Plan:
    strategy: str
    objective: dict[str, str]
    ranges: list[strategies.Range]
    max_jobs: int | None
    max_parallel: int
    early_stopping: bool
    seed: int | None
    hyperband: strategies.HyperbandRungs | None = None
    target: float | None = None
    not_improving: int | None = None
    max_runtime: int | None = None
    grid_size: int | None = field(default=None)

    @property
    def maximize(self) -> bool:
        return self.objective["Type"] == "Maximize"

    @property
    def metric(self) -> str:
        return self.objective["MetricName"]


def plan_for(config: dict[str, Any], definition: dict[str, Any]) -> Plan:
    strategy = config["Strategy"]
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if not objective:
        raise ValidationError(
            "HyperParameterTuningJobObjective is required: the tuning job needs an objective."
        )
    static = definition.get("StaticHyperParameters", {})
    ranges = strategies.parse_ranges(
        config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {}, static
    )
    if not ranges:
        raise ValidationError("ParameterRanges must give at least one hyperparameter range.")
    early_stopping = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
    limits = config["ResourceLimits"]
    hyperband_config = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if config.get("StrategyConfig") and strategy != "Hyperband":
        raise ValidationError("StrategyConfig can be given only for the Hyperband strategy.")
    hyperband = None
    if strategy == "Hyperband":
        if early_stopping:
            raise ValidationError(
                "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which "
                "stops training jobs itself."
            )
        hyperband = hyperband_rungs(hyperband_config or {}, static)
    max_jobs = limits.get("MaxNumberOfTrainingJobs")
    grid_size = None
    if strategy == "Grid":
        grid_size = strategies.GridStrategy(ranges).size
        max_jobs = min(max_jobs, grid_size) if max_jobs else grid_size
    elif max_jobs is None:
        raise ValidationError(f"ResourceLimits.MaxNumberOfTrainingJobs is required for {strategy}.")
    if limits["MaxParallelTrainingJobs"] > (max_jobs or 1) and strategy != "Grid":
        raise ValidationError(
            "ResourceLimits.MaxParallelTrainingJobs cannot be greater than MaxNumberOfTrainingJobs."
        )
    criteria = config.get("TuningJobCompletionCriteria") or {}
    return Plan(
        strategy=strategy,
        objective=dict(objective),
        ranges=ranges,
        max_jobs=max_jobs,
        max_parallel=limits["MaxParallelTrainingJobs"],
        early_stopping=early_stopping,
        seed=config.get("RandomSeed"),
        hyperband=hyperband,
        target=criteria.get("TargetObjectiveMetricValue"),
        not_improving=(criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        ),
        max_runtime=limits.get("MaxRuntimeInSeconds"),
        grid_size=grid_size,
    )


def hyperband_rungs(config: dict[str, Any], static: dict[str, str]) -> strategies.HyperbandRungs:
    max_resource = config.get("MaxResource")
    if max_resource is None:
        for key in EPOCH_KEYS:
            if key in static:
                try:
                    max_resource = int(json.loads(static[key]))
                except (ValueError, TypeError):
                    continue
                break
    if max_resource is None:
        raise ValidationError(
            "HyperbandStrategyConfig.MaxResource is required: it could not be inferred from "
            f"the static hyperparameters ({', '.join(EPOCH_KEYS)})."
        )
    min_resource = config.get("MinResource", 1)
    if not 1 <= min_resource <= max_resource <= strategies.MAX_HYPERBAND_RESOURCE:
        raise ValidationError(
            "HyperbandStrategyConfig needs 1 <= MinResource <= MaxResource <= "
            f"{strategies.MAX_HYPERBAND_RESOURCE}; got {min_resource} and {max_resource}."
        )
    return strategies.HyperbandRungs(min_resource, max_resource)


def check_objective_metric(plan: Plan, definition: dict[str, Any]) -> None:
    """The objective must be a metric the training jobs emit: one of their MetricDefinitions,
    or a metric of their built-in algorithm (XGBoost's ``validation:auc``, ``train:logloss``...;
    k-NN's ``test:accuracy`` and ``test:mse``)."""
    specification = definition["AlgorithmSpecification"]
    image = specification.get("TrainingImage")
    if not image:
        raise ValidationError(
            "AlgorithmSpecification.TrainingImage is required by the emulator (AlgorithmName "
            "refers to a Marketplace or custom algorithm, which it does not run)."
        )
    defined = {d["Name"] for d in specification.get("MetricDefinitions", [])}
    if plan.metric in defined:
        return
    script_mode = "sagemaker_program" in definition.get("StaticHyperParameters", {})
    repository = images.repository(image)
    if not script_mode and repository == "sagemaker-xgboost":
        data, _, metric = plan.metric.partition(":")
        if data in {"train", "validation"} and metric.split("@")[0] in xgboost_builtin.METRICS:
            return
    if not script_mode and plan.metric in training_metrics.builtin_metric_names(repository):
        return
    raise ValidationError(
        f"The objective metric for the hyperparameter tuning job, [{plan.metric}], isn't valid "
        f"for the [{image}] algorithm. Choose a valid objective metric"
        + (f" (the MetricDefinitions name {', '.join(sorted(defined))})." if defined else ".")
    )


def training_request(
    record: dict[str, Any], job_name: str, tuned: dict[str, str], tags: list[dict[str, str]]
) -> dict[str, Any]:
    """The CreateTrainingJob body for one of the tuning job's training jobs."""
    definition = record["TrainingJobDefinition"]
    specification = definition["AlgorithmSpecification"]
    metric = tuning_metric(record)["MetricName"]
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            k: v
            for k, v in specification.items()
            if k in {"TrainingImage", "TrainingInputMode", "MetricDefinitions"}
        },
        "HyperParameters": {
            **definition.get("StaticHyperParameters", {}),
            **tuned,
            OBJECTIVE_KEY: metric,
        },
    }
    for member in COPIED_MEMBERS:
        if member in definition:
            request[member] = copy.deepcopy(definition[member])
    if "HyperParameterTuningResourceConfig" in definition:
        request["ResourceConfig"] = resource_config(
            definition["HyperParameterTuningResourceConfig"]
        )
    if tags:
        request["Tags"] = copy.deepcopy(tags)
    return request


def resource_config(tuning_resources: dict[str, Any]) -> dict[str, Any]:
    """A training job's ResourceConfig from HyperParameterTuningResourceConfig: its instance
    settings, or the first of its InstanceConfigs (the Prioritized allocation's first choice)."""
    chosen = (tuning_resources.get("InstanceConfigs") or [tuning_resources])[0]
    config = {
        key: chosen[key]
        for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB")
        if key in chosen
    }
    if "VolumeKmsKeyId" in tuning_resources:
        config["VolumeKmsKeyId"] = tuning_resources["VolumeKmsKeyId"]
    return config


def validated(action_name: str, request: dict[str, Any]) -> bytes:
    """The request as a client would send it, checked against the service model."""
    body = json.dumps(request, default=str).encode()
    protocol.parse_request(action_name, body)
    return body


# --- the API ------------------------------------------------------------------------------------
@action("CreateHyperParameterTuningJob")
def create_tuning_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["HyperParameterTuningJobName"]
    for member in ("TrainingJobDefinitions", "WarmStartConfig", "Autotune"):
        if params.get(member):
            raise ValidationError(f"{member} is not emulated.")
    definition = params.get("TrainingJobDefinition")
    if not definition:
        raise ValidationError("TrainingJobDefinition is required.")
    if ("ResourceConfig" in definition) == ("HyperParameterTuningResourceConfig" in definition):
        raise ValidationError(
            "TrainingJobDefinition needs exactly one of ResourceConfig and "
            "HyperParameterTuningResourceConfig."
        )
    config = params["HyperParameterTuningJobConfig"]
    plan = plan_for(config, definition)
    check_objective_metric(plan, definition)
    arn = TUNING_JOBS.arn(engine, name)
    members: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        # Describe shows the default when the request left it out (and SDKs read it).
        "HyperParameterTuningJobConfig": {
            "TrainingJobEarlyStoppingType": "Off",
            **copy.deepcopy(config),
        },
        "TrainingJobDefinition": {
            **copy.deepcopy(definition),
            "StaticHyperParameters": {
                **definition.get("StaticHyperParameters", {}),
                OBJECTIVE_KEY: config["HyperParameterTuningJobObjective"]["MetricName"],
            },
        },
        "HyperParameterTuningJobStatus": "InProgress",
        "TrainingJobStatusCounters": status_counters([]),
        "ObjectiveStatusCounters": objective_counters([]),
        "_jobs": [],
        "_tags": copy.deepcopy(params.get("Tags", [])),
    }
    record = TUNING_JOBS.new(arn, members)
    # What each training job will be asked: a definition CreateTrainingJob refuses is refused
    # now, naming the member, rather than failing every training job later.
    sample = {r.name: "1" for r in plan.ranges}
    try:
        validated("CreateTrainingJob", training_request(record, f"{name}-001-00000000", sample, []))
    except ValidationError as error:
        raise ValidationError(f"TrainingJobDefinition: {error.message}") from error
    TUNING_JOBS.create(engine, record, params.get("Tags", []))
    service_experiments.for_tuning_job(engine, name, arn)
    tuning = TuningRun(engine, name, plan)
    engine.register_stopper(KIND, name, tuning.stopped.set)
    threading.Thread(target=tuning.run_guarded, name=f"tuning-{name}", daemon=True).start()
    return {"HyperParameterTuningJobArn": arn}


@action("ListHyperParameterTuningJobs")
def list_tuning_jobs(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    records = [
        {**r, "Strategy": r["HyperParameterTuningJobConfig"]["Strategy"],
         "ResourceLimits": r["HyperParameterTuningJobConfig"]["ResourceLimits"]}
        for r in engine.store.all(KIND)
    ]  # fmt: skip
    return TUNING_JOBS.list(engine, params, records)


@action("ListTrainingJobsForHyperParameterTuningJob")
def list_training_jobs_for_tuning_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_record(engine, params["HyperParameterTuningJobName"])
    summaries = training_summaries(engine, record)
    sort_by = params.get("SortBy", "CreationTime")
    descending = params.get("SortOrder", "Descending") == "Descending"
    selected, _ = list_records(
        summaries,
        {"StatusEquals": params.get("StatusEquals"), "MaxResults": len(summaries) or 1,
         "SortBy": sort_by, "SortOrder": params.get("SortOrder", "Descending")},
        name_key="TrainingJobName",
        status_key="TrainingJobStatus",
    )  # fmt: skip
    if sort_by == "FinalObjectiveMetricValue":
        # Jobs without an objective come last, whatever the order.
        with_value = [s for s in selected if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        without = [s for s in selected if "FinalHyperParameterTuningJobObjectiveMetric" not in s]
        with_value.sort(
            key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            reverse=descending,
        )
        selected = with_value + without
    return paged("TrainingJobSummaries", selected, params)


@action("StopHyperParameterTuningJob")
def stop_tuning_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["HyperParameterTuningJobName"]
    with engine.store.lock:
        record = get_record(engine, name)
        status = record["HyperParameterTuningJobStatus"]
        if status != "InProgress":
            raise ValidationError(
                f"The request was rejected because the tuning job is in status {status}."
            )
        engine.store.update(
            KIND,
            name,
            lambda r: r.update(
                HyperParameterTuningJobStatus="Stopping", LastModifiedTime=jobs.now()
            ),
        )
    engine.stop_job(KIND, name)
    return {}


@action("DeleteHyperParameterTuningJob")
def delete_tuning_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    """Only the tuning job's own record goes: its training jobs and artifacts stay, as AWS
    documents. A tuning job still running cannot be deleted (stop it first)."""

    def stopped(record: dict[str, Any]) -> None:
        status = record["HyperParameterTuningJobStatus"]
        if status in RUNNING:
            raise ValidationError(
                f"The request was rejected because the tuning job is in status {status}; "
                "stop it first."
            )

    with engine.store.lock:
        record = TUNING_JOBS.delete(engine, params["HyperParameterTuningJobName"], stopped)
        engine.tags.set(record["HyperParameterTuningJobArn"], [])
    return {}


# --- summaries and counters ----------------------------------------------------------------------
def objective_of(job: dict[str, Any], metric: str) -> float | None:
    for item in job.get("FinalMetricDataList", []):
        if item["MetricName"] == metric:
            return float(item["Value"])
    return None


def objective_status(job: dict[str, Any], metric: str) -> str:
    if job["TrainingJobStatus"] in RUNNING:
        return "Pending"
    return "Succeeded" if objective_of(job, metric) is not None else "Failed"


def tuning_metric(record: dict[str, Any]) -> dict[str, str]:
    config = record["HyperParameterTuningJobConfig"]
    return (
        config.get("HyperParameterTuningJobObjective")
        or record["TrainingJobDefinition"]["TuningObjective"]
    )


def summary(record: dict[str, Any], launched: dict[str, Any], job: dict[str, Any]) -> dict:
    """A HyperParameterTrainingJobSummary of one training job."""
    objective = tuning_metric(record)
    result: dict[str, Any] = {
        "TrainingJobName": job["TrainingJobName"],
        "TrainingJobArn": job["TrainingJobArn"],
        "TuningJobName": record["HyperParameterTuningJobName"],
        "CreationTime": job["CreationTime"],
        "TrainingJobStatus": job["TrainingJobStatus"],
        "TunedHyperParameters": dict(launched["tuned"]),
        "ObjectiveStatus": objective_status(job, objective["MetricName"]),
    }
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if job.get(key):
            result[key] = job[key]
    if record["TrainingJobDefinition"].get("DefinitionName"):
        result["TrainingJobDefinitionName"] = record["TrainingJobDefinition"]["DefinitionName"]
    value = objective_of(job, objective["MetricName"])
    if value is not None and job["TrainingJobStatus"] not in RUNNING:
        result["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": value,
        }
    return result


def training_summaries(engine: Engine, record: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    with engine.store.lock:
        for launched in record["_jobs"]:
            job = engine.store.find(TRAINING, launched["name"])
            if job is not None:
                found.append(summary(record, launched, copy.deepcopy(job)))
    return found


def status_counters(summaries: list[dict[str, Any]]) -> dict[str, int]:
    counters = dict.fromkeys(
        ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
    )
    for item in summaries:
        status = item["TrainingJobStatus"]
        if status in RUNNING:
            counters["InProgress"] += 1
        elif status == "Failed":
            # SageMaker's retryable errors are its own (internal) faults.
            internal = str(item.get("FailureReason", "")).startswith("InternalServerError")
            counters["RetryableError" if internal else "NonRetryableError"] += 1
        else:
            counters[status] += 1
    return counters


def objective_counters(summaries: list[dict[str, Any]]) -> dict[str, int]:
    counters = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
    for item in summaries:
        counters[item["ObjectiveStatus"]] += 1
    return counters


def best_of(summaries: list[dict[str, Any]], maximize: bool) -> dict[str, Any] | None:
    scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    if not scored:
        return None

    def value(item: dict[str, Any]) -> float:
        number = item["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        return -number if maximize else number

    return min(scored, key=lambda s: (value(s), s["CreationTime"]))  # the first of equals


def refresh(engine: Engine, name: str, **fields: Any) -> list[dict[str, Any]]:
    """Counters, best job and completion details from the training jobs as they are now."""
    record = engine.store.snapshot(KIND, name)
    summaries = training_summaries(engine, record)
    objective = tuning_metric(record)
    best = best_of(summaries, objective["Type"] == "Maximize")

    def change(live: dict[str, Any]) -> None:
        live["TrainingJobStatusCounters"] = status_counters(summaries)
        live["ObjectiveStatusCounters"] = objective_counters(summaries)
        if best is not None:
            live["BestTrainingJob"] = best
        live["TuningJobCompletionDetails"] = {
            "NumberOfTrainingJobsObjectiveNotImproving": not_improving(
                summaries, objective["Type"] == "Maximize"
            )
        }
        end = live.get("HyperParameterTuningEndTime") or jobs.now()
        live["ConsumedResources"] = {
            "RuntimeInSeconds": int((end - live["CreationTime"]).total_seconds())
        }
        live.update(fields)

    engine.store.update(KIND, name, change)
    return summaries


def not_improving(summaries: list[dict[str, Any]], maximize: bool) -> int:
    """How many finished jobs, in launch order, came after the best one so far."""
    best: float | None = None
    since = 0
    for item in sorted(summaries, key=lambda s: s["CreationTime"]):
        metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
        if metric is None:
            if item["TrainingJobStatus"] not in RUNNING:
                since += 1
            continue
        value = metric["Value"]
        if best is None or strategies.worse(best, value, maximize):
            best, since = value, 0
        else:
            since += 1
    return since


# --- the loop -------------------------------------------------------------------------------------
class TuningFailure(Exception):
    """Ends the tuning job Failed with this reason."""


class TuningRun:
    def __init__(self, engine: Engine, name: str, plan: Plan) -> None:
        self.engine = engine
        self.name = name
        self.plan = plan
        self.stopped = threading.Event()
        self.strategy = strategies.strategy_for(
            "Random" if plan.strategy == "Hyperband" else plan.strategy,
            plan.ranges,
            maximize=plan.maximize,
            seed=plan.seed,
        )
        record = engine.store.snapshot(KIND, name)
        self.definitions = training_metrics.definitions_of(record["TrainingJobDefinition"])
        self.trials: dict[str, int] = {}  # training job -> the strategy's trial
        self.observed: set[str] = set()
        self.stop_requested: set[str] = set()
        self.checked_rounds: dict[str, int] = {}
        self.judged_rungs: dict[str, set[int]] = {}
        self.final_series: dict[str, strategies.Series] = {}
        self.exhausted = False

    # the objective's series in a job's log
    def series(self, job_name: str) -> strategies.Series:
        if job_name in self.final_series:
            return self.final_series[job_name]
        log_file = self.engine.local_path("jobs", "training", job_name, "job.log")
        found = training_metrics.read_series(log_file, self.definitions).get(self.plan.metric, [])
        return found

    def launch(self, index: int) -> bool:
        proposal = self.strategy.propose()
        if proposal is None:
            self.exhausted = True
            return False
        trial, tuned = proposal
        record = self.engine.store.snapshot(KIND, self.name)
        job_name = f"{self.name}-{index:03d}-{secrets.token_hex(4)}"
        request = training_request(record, job_name, tuned, record["_tags"])
        try:
            self.engine.handle("CreateTrainingJob", validated("CreateTrainingJob", request))
        except SageMakerError as error:
            raise TuningFailure(f"CreateTrainingJob refused {job_name}: {error.message}") from error
        arn = record["HyperParameterTuningJobArn"]
        self.engine.store.update(TRAINING, job_name, lambda job: job.update(TuningJobArn=arn))
        service_experiments.for_tuning_training_job(self.engine, self.name, job_name)
        self.engine.store.update(
            KIND,
            self.name,
            lambda live: live["_jobs"].append({"name": job_name, "tuned": tuned}),
        )
        self.trials[job_name] = trial
        return True

    def request_stop(self, job_name: str) -> None:
        self.stop_requested.add(job_name)
        with contextlib.suppress(ValidationError):  # it ended meanwhile
            jobs.request_stop(
                self.engine, training_jobs.TRAINING, job_name, SecondaryStatus="Stopping"
            )

    def early_stop(self, running: list[str], order: list[str]) -> None:
        """The median rule or Hyperband's rungs, on what each running job has logged."""
        for job_name in running:
            if job_name in self.stop_requested:
                continue
            current = self.series(job_name)
            earlier = [self.series(n) for n in order[: order.index(job_name)]]
            if self.plan.hyperband is not None:
                others = [self.series(n) for n in order if n != job_name]
                judged = self.judged_rungs.setdefault(job_name, set())
                if self.plan.hyperband.stops(current, others, self.plan.maximize, judged):
                    self.request_stop(job_name)
            elif self.plan.early_stopping:
                checked = self.checked_rounds.get(job_name, 0)
                self.checked_rounds[job_name] = len(current)
                if strategies.median_rule_stops(current[checked:], earlier, self.plan.maximize):
                    self.request_stop(job_name)

    def search_over(self, summaries: list[dict[str, Any]], started: float) -> bool:
        """No more jobs: the limits or a completion criterion say so."""
        if self.exhausted or len(summaries) >= (self.plan.max_jobs or 0):
            return True
        if self.plan.max_runtime and time.monotonic() - started >= self.plan.max_runtime:
            return True
        best = best_of(summaries, self.plan.maximize)
        if best is not None and self.plan.target is not None:
            value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            if not strategies.worse(value, self.plan.target, self.plan.maximize):
                return True
        return bool(
            self.plan.not_improving
            and not_improving(summaries, self.plan.maximize) >= self.plan.not_improving
        )

    def run(self) -> None:
        started = time.monotonic()
        parallel = max(1, min(self.plan.max_parallel, self.engine.max_jobs))
        while not self.engine.shutting_down.is_set():
            summaries = refresh(self.engine, self.name)
            self.observe(summaries)
            running = [s["TrainingJobName"] for s in summaries if s["TrainingJobStatus"] in RUNNING]
            out_of_time = bool(
                self.plan.max_runtime and time.monotonic() - started >= self.plan.max_runtime
            )
            if self.stopped.is_set() or out_of_time:
                # Stopped, or out of time: its running jobs stop with it.
                for job_name in running:
                    if job_name not in self.stop_requested:
                        self.request_stop(job_name)
            else:
                order = [
                    s["TrainingJobName"] for s in sorted(summaries, key=lambda s: s["CreationTime"])
                ]
                self.early_stop(running, order)
            if self.stopped.is_set() or out_of_time or self.search_over(summaries, started):
                if not running:
                    self.finish(summaries)
                    return
            else:
                launched = len(summaries)
                while len(running) < parallel and launched < (self.plan.max_jobs or 0):
                    launched += 1
                    if not self.launch(launched):
                        break
                    running.append(f"launched-{launched}")
                if not running and self.exhausted:
                    continue  # nothing left to launch: finish on the next pass
            time.sleep(POLL_SECONDS)

    def observe(self, summaries: list[dict[str, Any]]) -> None:
        """Tell the strategy each finished job's objective, once."""
        for item in summaries:
            job_name = item["TrainingJobName"]
            if item["TrainingJobStatus"] in RUNNING or job_name in self.observed:
                continue
            self.observed.add(job_name)
            self.final_series[job_name] = self.series(job_name)
            metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
            self.strategy.observe(self.trials.get(job_name, -1), metric and metric["Value"])

    def finish(self, summaries: list[dict[str, Any]]) -> None:
        if self.stopped.is_set():
            status, reason = "Stopped", None
        elif summaries and not any(
            "FinalHyperParameterTuningJobObjectiveMetric" in s for s in summaries
        ):
            first = next((s["FailureReason"] for s in summaries if s.get("FailureReason")), "")
            status = "Failed"
            reason = (
                f"No training job succeeded after {len(summaries)} attempts; the objective "
                f"metric {self.plan.metric} was not found. First failure: {first}"
            )[:1024]
        else:
            status, reason = "Completed", None
        self.end(status, reason)

    def end(self, status: str, reason: str | None) -> None:
        moment = jobs.now()
        fields: dict[str, Any] = {
            "HyperParameterTuningJobStatus": status,
            "HyperParameterTuningEndTime": moment,
            "LastModifiedTime": moment,
        }
        if reason:
            fields["FailureReason"] = reason
        refresh(self.engine, self.name, **fields)

    def run_guarded(self) -> None:
        """Whatever happens, the tuning job ends in a final status (and its jobs stop). When the
        emulator shuts down it stays as it is: the next start's recovery settles it."""
        try:
            self.run()
        except Exception as exc:
            if self.engine.shutting_down.is_set():
                return
            if isinstance(exc, TuningFailure):
                reason = str(exc)
            else:
                reason = jobs.emulator_fault(f"tuning job {self.name}", exc)
            self.stop_all()
            self.end("Failed", reason[: jobs.FAILURE_REASON_LIMIT])
        finally:
            self.engine.unregister_stopper(KIND, self.name)

    def stop_all(self) -> None:
        record = self.engine.store.snapshot(KIND, self.name)
        for launched in record["_jobs"]:
            job = self.engine.store.find(TRAINING, launched["name"])
            if job is not None and job["TrainingJobStatus"] == "InProgress":
                self.request_stop(launched["name"])


# How many of a tuning job's best training jobs a pipeline's TuningStep exposes.
STEP_TOP_JOBS = 50


def step_properties(engine: Engine, name: str) -> dict[str, Any]:
    """What a pipeline's TuningStep exposes: the Describe response and TrainingJobSummaries,
    the best first (as ``TuningStep.get_top_model_s3_uri`` reads ``[0]``), up to 50."""
    record = public(engine.store.snapshot(KIND, name))
    summaries = training_summaries(engine, engine.store.snapshot(KIND, name))
    maximize = tuning_metric(record)["Type"] == "Maximize"
    scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    scored.sort(
        key=lambda s: (
            -s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            if maximize
            else s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            s["CreationTime"],
        )
    )
    return {**record, "TrainingJobSummaries": scored[:STEP_TOP_JOBS]}


def recovered(engine: Engine, name: str) -> None:
    """After a restart: the counters and best job from the training jobs as recovery left them."""
    refresh(engine, name)
