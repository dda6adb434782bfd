"""Running a pipeline execution's steps: the definition check, the scheduler and one runner
per step type (pipeline_executions.py is the API around it).

Steps run as soon as the steps they depend on (``DependsOn`` and every ``Get`` of
``Steps.<name>``) have succeeded, so independent branches run in parallel. Every step type that
the SageMaker Python SDK's local pipeline mode executes runs here, plus RegisterModel; job-like
steps go through the engine's own actions — the same validation, jobs and registry as direct
API calls — and a step's properties are its resource's Describe* response:

| step type       | action                                             | Metadata key    |
| --------------- | -------------------------------------------------- | --------------- |
| Processing      | CreateProcessingJob, then wait for it               | ProcessingJob   |
| Training        | CreateTrainingJob, then wait for it                 | TrainingJob     |
| Transform       | CreateTransformJob, then wait for it                | TransformJob    |
| Tuning          | CreateHyperParameterTuningJob, then wait for it     | TuningJob       |
| Model           | CreateModel                                         | Model           |
| RegisterModel   | CreateModelPackage                                  | RegisterModel   |
| Condition       | evaluates its conditions, then runs one branch      | Condition       |
| Fail            | ends the execution Failed with its ErrorMessage     | Fail            |

A Tuning step's properties are what the SDK's TuningStep declares: the tuning job's
DescribeHyperParameterTuningJob response and ListTrainingJobsForHyperParameterTuningJob's
``TrainingJobSummaries``, best first (up to 50), so ``get_top_model_s3_uri(0, ...)``'s
``Steps.<name>.TrainingJobSummaries[0].TrainingJobName`` names the best job.

Before any step runs, the definition is checked: a step type the emulator does not run, or a
reference to a step that is not in the definition, fails the execution with a FailureReason
naming it. A step that fails stops new steps from starting; the execution ends Failed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape

from emulator.sagemaker import lineage, protocol, service_experiments
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import SageMakerError
from emulator.sagemaker.jobs import log, now
from emulator.sagemaker.pipeline_expressions import (
    Evaluator,
    ExpressionError,
    parse_definition,
    step_references,
)

KIND = "PipelineExecution"


@dataclass(frozen=True)
class JobStep:
    """How a job-running step type goes through the engine's own actions."""

    create: str  # "CreateProcessingJob"
    stop: str  # "StopProcessingJob"
    name_field: str  # "ProcessingJobName": the request's and the Describe* response's
    kind: str  # the store's kind, whose record is the Describe* response
    status_field: str  # "ProcessingJobStatus"
    metadata_key: str  # PipelineExecutionStepMetadata's member: {"Arn": ...}
    name_limit: int = 63  # the service model's length limit of the job's name


JOB_STEPS = {
    "Processing": JobStep(
        "CreateProcessingJob",
        "StopProcessingJob",
        "ProcessingJobName",
        "ProcessingJob",
        "ProcessingJobStatus",
        "ProcessingJob",
    ),
    "Training": JobStep(
        "CreateTrainingJob",
        "StopTrainingJob",
        "TrainingJobName",
        "TrainingJob",
        "TrainingJobStatus",
        "TrainingJob",
    ),
    "Transform": JobStep(
        "CreateTransformJob",
        "StopTransformJob",
        "TransformJobName",
        "TransformJob",
        "TransformJobStatus",
        "TransformJob",
    ),
    "Tuning": JobStep(
        "CreateHyperParameterTuningJob",
        "StopHyperParameterTuningJob",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJob",
        "HyperParameterTuningJobStatus",
        "TuningJob",
        name_limit=32,
    ),
}
SUPPORTED_STEPS = {*JOB_STEPS, "Model", "RegisterModel", "Condition", "Fail"}
POLL_SECONDS = 0.2
MAX_PARALLEL_STEPS = 4


class StepFailure(Exception):
    """Ends a step as Failed with this reason."""


class ExecutionStopped(Exception):
    """The execution was stopped while this step ran."""


# --- checking a definition ------------------------------------------------------------------
def all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step, including those inside condition branches."""
    found = []
    for step in steps:
        found.append(step)
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            found += all_steps(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return found


def dependencies(step: dict[str, Any]) -> set[str]:
    own = {k: v for k, v in step.items() if k not in {"IfSteps", "ElseSteps"}}
    arguments = step.get("Arguments", {})
    if step.get("Type") == "Condition":  # its branches wait for it, not the other way round
        own["Arguments"] = {"Conditions": arguments.get("Conditions", [])}
    names = set(step_references(own))
    names.update(step.get("DependsOn", []))
    names.discard(step["Name"])
    return names


def check_definition(definition: dict[str, Any]) -> None:
    """Refuse what the emulator cannot run, naming the step."""
    steps = all_steps(definition["Steps"])
    names = [step.get("Name") for step in steps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StepFailure(f"step names must be unique; repeated: {', '.join(map(str, duplicates))}")
    for step in steps:
        if step.get("Type") not in SUPPORTED_STEPS:
            raise StepFailure(
                f"step '{step.get('Name')}' has type '{step.get('Type')}', which the emulator "
                f"does not run; supported: {', '.join(sorted(SUPPORTED_STEPS))}"
            )
        for reference in sorted(dependencies(step)):
            if reference not in names:
                raise StepFailure(
                    f"step '{step['Name']}' references step '{reference}', which is not in the "
                    "pipeline definition"
                )


# --- fitting resolved values to the API's types ---------------------------------------------
def fit_to_shape(value: Any, shape: Shape | None) -> Any:
    """Pipeline parameters are typed; an Integer parameter in a string field (a container
    argument, say) is sent as text, as the service does."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: fit_to_shape(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [fit_to_shape(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: fit_to_shape(v, shape.value) for k, v in value.items()}
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    if kind in {"integer", "long"} and isinstance(value, str | float):
        try:
            return int(float(value))
        except ValueError:
            return value
    if kind in {"float", "double"} and isinstance(value, str | int):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def call(engine: Engine, action_name: str, request: dict[str, Any]) -> dict[str, Any]:
    """An engine action with the request checked as if it came over the wire."""
    shape = protocol.operation_model(action_name).input_shape
    body = json.dumps(fit_to_shape(request, shape), default=str).encode()
    try:
        return engine.handle(action_name, body)
    except SageMakerError as error:
        raise StepFailure(f"{action_name} refused the request: {error.message}") from error


# --- running an execution -------------------------------------------------------------------
class ExecutionRun:
    """One execution: its steps' states, the evaluator, and the scheduling loop."""

    def __init__(self, engine: Engine, arn: str) -> None:
        self.engine = engine
        self.arn = arn
        record = engine.store.snapshot(KIND, arn)
        self.execution_id = arn.rsplit("/", 1)[-1]
        self.stopped = threading.Event()
        self.definition: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.property_file_cache: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()
        self.evaluator = Evaluator(
            parameters=record["_parameters"],
            execution={
                "PipelineExecutionId": self.execution_id,
                "PipelineExecutionArn": arn,
                "PipelineName": record["_pipeline_name"],
                "PipelineArn": record["PipelineArn"],
                "StartDateTime": record["CreationTime"].isoformat(),
                "CurrentDateTime": record["CreationTime"].isoformat(),
            },
            step_properties=self.step_properties,
            read_property_file=self.read_property_file,
        )

    # what the evaluator asks for
    def step_properties(self, name: str) -> dict[str, Any]:
        with self.lock:
            state = self.steps.get(name, {}).get("StepStatus")
            properties = self.properties.get(name)
        if properties is None or state != "Succeeded":
            raise ExpressionError(f"step '{name}' has not succeeded in this execution")
        return properties

    def read_property_file(self, step: str, file_name: str) -> Any:
        key = (step, file_name)
        if key in self.property_file_cache:
            return self.property_file_cache[key]
        spec = next((s for s in all_steps(self.definition["Steps"]) if s["Name"] == step), {})
        files = {f["PropertyFileName"]: f for f in spec.get("PropertyFiles", [])}
        if file_name not in files:
            raise ExpressionError(f"step '{step}' declares no property file '{file_name}'")
        declared = files[file_name]
        outputs = self.step_properties(step).get("ProcessingOutputConfig", {}).get("Outputs", [])
        output = next((o for o in outputs if o.get("OutputName") == declared["OutputName"]), None)
        if output is None:
            raise ExpressionError(
                f"property file '{file_name}': step '{step}' has no output "
                f"'{declared['OutputName']}'"
            )
        uri = output["S3Output"]["S3Uri"].rstrip("/") + "/" + declared["FilePath"].lstrip("/")
        bucket, _, key_name = uri.removeprefix("s3://").partition("/")
        try:
            body = self.engine.client("s3").get_object(Bucket=bucket, Key=key_name)["Body"].read()
            document = json.loads(body)
        except Exception as exc:
            raise ExpressionError(f"property file '{file_name}' at {uri}: {exc}") from exc
        self.property_file_cache[key] = document
        return document

    # step bookkeeping
    def record_step(self, name: str, **fields: Any) -> None:
        with self.lock:
            self.steps.setdefault(name, {"StepName": name}).update(fields)
        self.publish()

    def publish(self) -> None:
        # The snapshot is taken inside the store's update, which the store serialises: taken
        # before it, two steps finishing together could write their snapshots in the wrong
        # order and leave an older state (a step without its Metadata) as the last word.
        def change(record: dict[str, Any]) -> None:
            with self.lock:
                record["_steps"] = [dict(s) for s in self.steps.values()]
            record["LastModifiedTime"] = now()

        self.engine.store.update(KIND, self.arn, change)

    def finish(self, status: str, reason: str | None = None) -> None:
        def change(record: dict[str, Any]) -> None:
            record["PipelineExecutionStatus"] = status
            record["LastModifiedTime"] = now()
            if reason:
                record["FailureReason"] = reason[:1024]

        self.engine.store.update(KIND, self.arn, change)

    def resource_name(self, step: str, limit: int = 63) -> str:
        """``pipelines-<execution id>-<step>-<random>``, as the service names step resources;
        within ``limit`` characters, ``<execution id>-<step>-<random>`` where that is short
        (tuning job names: 32)."""
        # ASCII only: job and model names must match [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
        cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in step.lower())
        cleaned = cleaned.strip("-")
        stem = (
            f"pipelines-{self.execution_id}-{cleaned}"
            if limit >= 63
            else (f"{self.execution_id}-{cleaned}")
        )
        return stem[: limit - 9].rstrip("-") + "-" + secrets.token_hex(4)

    # the steps themselves
    def run_step(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one step; returns the steps it unlocks (a condition's chosen branch)."""
        name, kind = step["Name"], step["Type"]
        self.record_step(
            name,
            StepDisplayName=step.get("DisplayName", name),
            StepDescription=step.get("Description", ""),
            StepStatus="Executing",
            StartTime=now(),
            AttemptCount=1,
        )
        try:
            if self.stopped.is_set():
                raise ExecutionStopped()
            try:  # a condition resolves only its conditions; its branches run later
                arguments = (
                    {} if kind == "Condition" else self.evaluator.resolve(step.get("Arguments", {}))
                )
            except ExpressionError as exc:
                raise StepFailure(str(exc)) from exc
            unlocked: list[dict[str, Any]] = []
            if kind in JOB_STEPS:
                self.run_job(name, kind, arguments)
            elif kind == "Model":
                model_name = self.resource_name(name)
                call(self.engine, "CreateModel", {**arguments, "ModelName": model_name})
                self.properties[name] = call(
                    self.engine, "DescribeModel", {"ModelName": model_name}
                )
                metadata = {"Model": {"Arn": self.properties[name]["ModelArn"]}}
                self.record_step(name, Metadata=metadata)
            elif kind == "RegisterModel":
                self.ensure_package_group(arguments.get("ModelPackageGroupName", ""))
                arn = call(self.engine, "CreateModelPackage", arguments)["ModelPackageArn"]
                self.properties[name] = call(
                    self.engine, "DescribeModelPackage", {"ModelPackageName": arn}
                )
                self.record_step(name, Metadata={"RegisterModel": {"Arn": arn}})
            elif kind == "Condition":
                unlocked = self.run_condition(name, step)
            elif kind == "Fail":
                message = str(arguments.get("ErrorMessage", ""))
                self.record_step(name, Metadata={"Fail": {"ErrorMessage": message}})
                raise StepFailure(message or f"FailStep {name} reached")
        except ExecutionStopped:
            self.record_step(name, StepStatus="Stopped", EndTime=now())
            raise
        except StepFailure as failure:
            self.record_step(name, StepStatus="Failed", EndTime=now(), FailureReason=str(failure))
            raise
        self.record_step(name, StepStatus="Succeeded", EndTime=now())
        return unlocked

    def ensure_package_group(self, group: str) -> None:
        """The RegisterModel step creates its model package group when it does not exist yet,
        as the Pipelines service does."""
        name = group.split("/")[-1]
        if name and self.engine.store.find("ModelPackageGroup", name) is None:
            with contextlib.suppress(StepFailure):  # created meanwhile by a parallel step
                call(self.engine, "CreateModelPackageGroup", {"ModelPackageGroupName": name})

    def run_condition(self, name: str, step: dict[str, Any]) -> list[dict[str, Any]]:
        arguments = step.get("Arguments", {})
        try:
            outcome = all(self.evaluator.condition(c) for c in arguments.get("Conditions", []))
        except ExpressionError as exc:
            raise StepFailure(str(exc)) from exc
        self.properties[name] = {"Outcome": outcome}
        # ConditionStepMetadata.Outcome is the enum "True" | "False", capitalised.
        self.record_step(name, Metadata={"Condition": {"Outcome": "True" if outcome else "False"}})
        return arguments.get("IfSteps" if outcome else "ElseSteps", [])

    def run_job(self, name: str, kind: str, arguments: dict[str, Any]) -> None:
        """Create the step's job, wait for it; its Describe* response is the step's properties
        (``Steps.<name>.TransformOutput.S3OutputPath``, ``...ModelArtifacts...``)."""
        spec = JOB_STEPS[kind]
        # The service names a step's job itself (the SDK leaves the name out of Arguments).
        job_name = self.resource_name(name, spec.name_limit)
        # Tagged with the execution, as SageMaker tags a step's job: lineage finds it by that.
        tags = [*arguments.get("Tags", []), lineage.pipeline_execution_tag(self.arn)]
        request = {**arguments, spec.name_field: job_name, "Tags": tags}
        response = call(self.engine, spec.create, request)
        arn = next(iter(response.values()))
        self.record_step(name, Metadata={spec.metadata_key: {"Arn": arn}})
        while True:
            job = self.engine.store.snapshot(spec.kind, job_name)
            if job[spec.status_field] not in {"InProgress", "Stopping"}:
                break
            if self.stopped.is_set():
                with contextlib.suppress(StepFailure):  # it may have ended meanwhile
                    call(self.engine, spec.stop, {spec.name_field: job_name})
            time.sleep(POLL_SECONDS)
        # The step's properties are the job's Describe* response, as the API shapes it.
        self.properties[name] = call(
            self.engine, f"Describe{spec.kind}", {spec.name_field: job_name}
        )
        if kind == "Tuning":
            # A TuningStep's properties also hold its best training jobs
            # (TrainingJobSummaries[0] is the best), as get_top_model_s3_uri reads them.
            from emulator.sagemaker import tuning_jobs

            self.properties[name] = tuning_jobs.step_properties(self.engine, job_name)
        status = job[spec.status_field]
        if status == "Stopped" and self.stopped.is_set():
            raise ExecutionStopped()
        if status != "Completed":
            raise StepFailure(f"{kind} job {job_name} ended {status}: {job.get('FailureReason')}")

    # scheduling
    def experiment_config(self) -> dict[str, str]:
        """The definition's PipelineExperimentConfig, resolved (the SDK's default names the
        pipeline and the execution id); empty when the definition has none."""
        config = self.definition.get("PipelineExperimentConfig") or {}
        resolved = {
            key: self.evaluator.resolve(config[key])
            for key in ("ExperimentName", "TrialName")
            if config.get(key)
        }
        return {key: str(value) for key, value in resolved.items()}

    def run(self) -> None:
        try:
            self.definition = parse_definition(
                self.engine.store.find(KIND, self.arn)["_definition"]
            )
            check_definition(self.definition)
            experiment = self.experiment_config()
        except (ExpressionError, StepFailure) as exc:
            self.finish("Failed", f"Invalid pipeline definition: {exc}")
            return
        if experiment:
            self.engine.store.update(
                KIND, self.arn, lambda record: record.update(PipelineExperimentConfig=experiment)
            )
            service_experiments.for_pipeline_execution(
                self.engine, experiment.get("ExperimentName"), experiment.get("TrialName"), self.arn
            )
        active = list(self.definition["Steps"])
        done: set[str] = set()
        failures: list[str] = []
        stopped = False
        futures: dict[Future, dict[str, Any]] = {}
        started: set[str] = set()
        with ThreadPoolExecutor(MAX_PARALLEL_STEPS, thread_name_prefix="pipeline-step") as pool:
            while True:
                if not failures and not self.stopped.is_set():
                    for step in active:
                        if step["Name"] in started:
                            continue
                        if dependencies(step) <= done:
                            started.add(step["Name"])
                            futures[pool.submit(self.run_step, step)] = step
                if not futures:
                    break
                finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for future in finished:
                    step = futures.pop(future)
                    try:
                        active.extend(future.result())
                        done.add(step["Name"])
                    except ExecutionStopped:
                        stopped = True
                    except StepFailure as failure:
                        failures.append(f"step '{step['Name']}' failed: {failure}")
                    except Exception as exc:  # the emulator's own fault: report it
                        log.exception("pipeline step %s crashed", step["Name"])
                        failures.append(f"step '{step['Name']}' failed: emulator error: {exc}")
        if failures:
            self.finish("Failed", "; ".join(failures))
        elif stopped or self.stopped.is_set():
            self.finish("Stopped")
        else:
            blocked = [s["Name"] for s in active if s["Name"] not in done]
            if blocked:
                self.finish("Failed", f"steps never became runnable: {', '.join(blocked)}")
            else:
                self.finish("Succeeded")
