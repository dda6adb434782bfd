"""Pipeline executions: Start/Describe/List/Stop, their steps, parameters and definition.

An execution interprets the definition JSON it started with. Steps run as soon as the steps
they depend on (``DependsOn`` and every ``Get`` of ``Steps.<name>``) have succeeded, so
independent branches run in parallel. Job-like steps go through the engine's own actions —
the same validation, jobs and registry as direct API calls:

| step type       | action                                             | Metadata key    |
| --------------- | -------------------------------------------------- | --------------- |
| Processing      | CreateProcessingJob, then wait for it               | ProcessingJob   |
| Training        | CreateTrainingJob, then wait for it                 | TrainingJob     |
| Tuning          | CreateHyperParameterTuningJob, then wait for it     | TuningJob       |
| Model           | CreateModel                                         | Model           |
| RegisterModel   | CreateModelPackage                                  | RegisterModel   |
| Condition       | evaluates its conditions, then runs one branch      | Condition       |
| Fail            | ends the execution Failed with its ErrorMessage     | Fail            |

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
from typing import Any

from botocore.model import Shape

from emulator.sagemaker import protocol
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, SageMakerError, ValidationError
from emulator.sagemaker.jobs import log, now
from emulator.sagemaker.listing import list_records
from emulator.sagemaker.pipeline_expressions import (
    Evaluator,
    ExpressionError,
    parse_definition,
    step_references,
)
from emulator.sagemaker.pipelines import KIND as PIPELINE
from emulator.sagemaker.pipelines import get_pipeline
from emulator.sagemaker.registry import action

KIND = "PipelineExecution"
RUNNING = {"Executing", "Stopping"}
JOB_STEPS = {
    # step type: (create action, name field, describe kind, status field, metadata key)
    "Processing": (
        "CreateProcessingJob",
        "ProcessingJobName",
        "ProcessingJob",
        "ProcessingJobStatus",
        "ProcessingJob",
    ),
    "Training": (
        "CreateTrainingJob",
        "TrainingJobName",
        "TrainingJob",
        "TrainingJobStatus",
        "TrainingJob",
    ),
    "Tuning": (
        "CreateHyperParameterTuningJob",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJob",
        "HyperParameterTuningJobStatus",
        "TuningJob",
    ),
}
STOP_ACTIONS = {
    "Processing": "StopProcessingJob",
    "Training": "StopTrainingJob",
    "Tuning": "StopHyperParameterTuningJob",
}
# Tuning job names are at most 32 characters (the service model's pattern).
NAME_LIMITS = {"Tuning": 32}
SUPPORTED_STEPS = {*JOB_STEPS, "Model", "RegisterModel", "Condition", "Fail"}
POLL_SECONDS = 0.2
MAX_PARALLEL_STEPS = 4


class StepFailure(Exception):
    """Ends a step as Failed with this reason."""


class ExecutionStopped(Exception):
    """The execution was stopped while this step ran."""


def missing(arn: str) -> str:
    return f"Pipeline execution '{arn}' does not exist."


def get_execution(engine: Engine, arn: str) -> dict[str, Any]:
    record = engine.store.find(KIND, arn)
    if record is None:
        raise ResourceNotFound(missing(arn))
    return record


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
        self.running_jobs: dict[str, tuple[str, str]] = {}
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
        with self.lock:
            steps = [dict(s) for s in self.steps.values()]

        def change(record: dict[str, Any]) -> None:
            record["_steps"] = steps
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
        within ``limit`` characters, ``<execution id>-<step>-<random>`` where that is short."""
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
                self.properties[name] = self.engine.store.snapshot("Model", model_name)
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
        create, name_field, describe_kind, status_field, metadata_key = JOB_STEPS[kind]
        job_name = self.resource_name(name, NAME_LIMITS.get(kind, 63))
        response = call(self.engine, create, {**arguments, name_field: job_name})
        arn = next(iter(response.values()))
        self.record_step(name, Metadata={metadata_key: {"Arn": arn}})
        with self.lock:
            self.running_jobs[name] = (kind, job_name)
        try:
            while True:
                job = self.engine.store.snapshot(describe_kind, job_name)
                if job[status_field] not in {"InProgress", "Stopping"}:
                    break
                if self.stopped.is_set():
                    with contextlib.suppress(StepFailure):  # it may have ended meanwhile
                        call(self.engine, STOP_ACTIONS[kind], {name_field: job_name})
                time.sleep(POLL_SECONDS)
        finally:
            with self.lock:
                self.running_jobs.pop(name, None)
        if kind == "Tuning":
            # A TuningStep's properties: the Describe response, and its best training jobs
            # (TrainingJobSummaries[0] is the best), as get_top_model_s3_uri reads them.
            from emulator.sagemaker import tuning_jobs

            job = tuning_jobs.step_properties(self.engine, job_name)
        self.properties[name] = job
        status = job[status_field]
        if status == "Stopped" and self.stopped.is_set():
            raise ExecutionStopped()
        if status != "Completed":
            raise StepFailure(f"{kind} job {job_name} ended {status}: {job.get('FailureReason')}")

    # scheduling
    def run(self) -> None:
        try:
            self.definition = parse_definition(
                self.engine.store.find(KIND, self.arn)["_definition"]
            )
            check_definition(self.definition)
        except (ExpressionError, StepFailure) as exc:
            self.finish("Failed", f"Invalid pipeline definition: {exc}")
            return
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


# --- the API ------------------------------------------------------------------------------
def execution_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def resolve_parameters(definition: dict[str, Any], given: list[dict[str, str]]) -> dict[str, Any]:
    """Defaults, overridden by the request; typed as the definition declares them."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if "DefaultValue" in spec:
            values[name] = spec["DefaultValue"]
    for item in given:
        name = item["Name"]
        if name not in declared:
            raise ValidationError(f"Parameter '{name}' is not defined in the pipeline.")
        kind, raw = declared[name].get("Type", "String"), item["Value"]
        try:
            value: Any = {"Integer": int, "Float": float}.get(kind, str)(raw)
        except ValueError as exc:
            raise ValidationError(f"Parameter '{name}' must be of type {kind}: {raw!r}") from exc
        if kind == "Boolean":
            value = str(raw).lower() == "true"
        allowed = declared[name].get("EnumValues")
        if allowed and value not in allowed:
            raise ValidationError(f"Parameter '{name}' must be one of {allowed}: {raw!r}")
        values[name] = value
    unset = sorted(set(declared) - set(values))
    if unset:
        raise ValidationError(f"Parameters without a default need a value: {', '.join(unset)}.")
    return values


@action("StartPipelineExecution")
def start_pipeline_execution(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    pipeline = get_pipeline(engine, params["PipelineName"])
    token = params["ClientRequestToken"]
    with engine.store.lock:
        for existing in engine.store.all(KIND):  # the same token is the same request (idempotent)
            if existing["_token"] == token and existing["PipelineArn"] == pipeline["PipelineArn"]:
                return {"PipelineExecutionArn": existing["PipelineExecutionArn"]}
    text = pipeline["PipelineDefinition"]
    try:
        definition = parse_definition(text)
    except ExpressionError as exc:
        raise ValidationError(str(exc)) from exc
    values = resolve_parameters(definition, params.get("PipelineParameters", []))
    arn = f"{pipeline['PipelineArn']}/execution/{execution_id()}"
    created = now()
    record = {
        "PipelineArn": pipeline["PipelineArn"],
        "PipelineExecutionArn": arn,
        "PipelineExecutionDisplayName": params.get(
            "PipelineExecutionDisplayName", f"execution-{int(created.timestamp() * 1000)}"
        ),
        "PipelineExecutionDescription": params.get("PipelineExecutionDescription", ""),
        "PipelineExecutionStatus": "Executing",
        "CreationTime": created,
        "LastModifiedTime": created,
        "PipelineVersionId": pipeline["PipelineVersionId"],
        "_token": token,
        "_definition": text,
        "_pipeline_name": pipeline["PipelineName"],
        "_parameters": values,
        "_given": [{"Name": k, "Value": str(v)} for k, v in values.items()],
        "_steps": [],
    }
    engine.store.create(KIND, arn, record)
    engine.store.update(
        PIPELINE,
        pipeline["PipelineName"],
        lambda p: p.update(LastRunTime=created, LastExecutionTime=created),
    )
    run = ExecutionRun(engine, arn)
    engine.register_stopper(KIND, arn, run.stopped.set)

    def execute() -> None:
        try:
            run.run()
        except Exception as exc:  # never leave an execution Executing forever
            log.exception("pipeline execution %s crashed", arn)
            run.finish("Failed", f"emulator error: {exc}")
        finally:
            engine.unregister_stopper(KIND, arn)

    threading.Thread(target=execute, name=f"pipeline-{arn[-12:]}", daemon=True).start()
    return {"PipelineExecutionArn": arn}


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


@action("DescribePipelineExecution")
def describe_pipeline_execution(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    get_execution(engine, params["PipelineExecutionArn"])
    return public(engine.store.snapshot(KIND, params["PipelineExecutionArn"]))


@action("ListPipelineExecutions")
def list_pipeline_executions(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    pipeline = get_pipeline(engine, params["PipelineName"])
    records = [r for r in engine.store.all(KIND) if r["PipelineArn"] == pipeline["PipelineArn"]]
    translated = {
        **params,
        "CreationTimeAfter": params.get("CreatedAfter"),
        "CreationTimeBefore": params.get("CreatedBefore"),
        "SortBy": "CreationTime",
    }
    page, token = list_records(records, translated, name_key="PipelineExecutionArn")
    summaries = [
        {
            "PipelineExecutionArn": r["PipelineExecutionArn"],
            "StartTime": r["CreationTime"],
            "PipelineExecutionStatus": r["PipelineExecutionStatus"],
            "PipelineExecutionDescription": r["PipelineExecutionDescription"],
            "PipelineExecutionDisplayName": r["PipelineExecutionDisplayName"],
            **(
                {"PipelineExecutionFailureReason": r["FailureReason"]}
                if r.get("FailureReason")
                else {}
            ),
        }
        for r in page
    ]
    result: dict[str, Any] = {"PipelineExecutionSummaries": summaries}
    if token:
        result["NextToken"] = token
    return result


@action("ListPipelineExecutionSteps")
def list_pipeline_execution_steps(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    arn = params.get("PipelineExecutionArn")
    if not arn:
        raise ValidationError("PipelineExecutionArn is required by the emulator.")
    record = get_execution(engine, arn)
    steps = sorted(
        (dict(s) for s in record["_steps"]),
        key=lambda s: s.get("StartTime") or now(),
        reverse=params.get("SortOrder", "Descending") == "Descending",
    )
    start = int(params.get("NextToken") or 0)
    size = params.get("MaxResults") or 50
    result: dict[str, Any] = {"PipelineExecutionSteps": steps[start : start + size]}
    if start + size < len(steps):
        result["NextToken"] = str(start + size)
    return result


@action("ListPipelineParametersForExecution")
def list_pipeline_parameters(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_execution(engine, params["PipelineExecutionArn"])
    return {"PipelineParameters": record["_given"]}


@action("DescribePipelineDefinitionForExecution")
def describe_definition_for_execution(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_execution(engine, params["PipelineExecutionArn"])
    return {"PipelineDefinition": record["_definition"], "CreationTime": record["CreationTime"]}


@action("StopPipelineExecution")
def stop_pipeline_execution(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["PipelineExecutionArn"]
    record = get_execution(engine, arn)
    if record["PipelineExecutionStatus"] not in RUNNING:
        raise ValidationError(
            f"Pipeline execution {arn} is {record['PipelineExecutionStatus']}; only an "
            "executing pipeline can be stopped."
        )
    engine.store.update(KIND, arn, lambda r: r.update(PipelineExecutionStatus="Stopping"))
    engine.stop_job(KIND, arn)
    return {"PipelineExecutionArn": arn}
