"""Pipeline executions: Start/Describe/List/Stop, their steps, parameters and definition.

StartPipelineExecution records the execution and hands it to pipeline_steps.ExecutionRun,
which interprets the definition JSON it started with on a thread of its own.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.jobs import log, now
from emulator.sagemaker.lifecycle import Resource
from emulator.sagemaker.listing import paged
from emulator.sagemaker.pipeline_expressions import ExpressionError, parse_definition
from emulator.sagemaker.pipeline_steps import KIND, ExecutionRun
from emulator.sagemaker.pipelines import KIND as PIPELINE
from emulator.sagemaker.pipelines import get_pipeline
from emulator.sagemaker.registry import action

EXECUTIONS = Resource(
    KIND,
    missing="Pipeline execution '{name}' does not exist.",
    missing_error=ResourceNotFound,
    name_key="PipelineExecutionArn",  # an execution has no name; its ARN is its key
    arn_key="PipelineExecutionArn",
    summary_keys=(
        "PipelineExecutionArn",
        "StartTime",
        "PipelineExecutionStatus",
        "PipelineExecutionDescription",
        "PipelineExecutionDisplayName",
        "PipelineExecutionFailureReason",
    ),
    created_window=True,
)
EXECUTIONS.register("DescribePipelineExecution")


def get_execution(engine: Engine, arn: str) -> dict[str, Any]:
    return EXECUTIONS.get(engine, arn)


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
    members = {
        "PipelineArn": pipeline["PipelineArn"],
        "PipelineExecutionDisplayName": params.get(
            "PipelineExecutionDisplayName", f"execution-{int(created.timestamp() * 1000)}"
        ),
        "PipelineExecutionDescription": params.get("PipelineExecutionDescription", ""),
        "PipelineExecutionStatus": "Executing",
        "PipelineVersionId": pipeline["PipelineVersionId"],
        "_token": token,
        "_definition": text,
        "_pipeline_name": pipeline["PipelineName"],
        "_parameters": values,
        "_given": [{"Name": k, "Value": str(v)} for k, v in values.items()],
        "_steps": [],
    }
    engine.store.create(KIND, arn, EXECUTIONS.new(arn, members, created))
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


@action("ListPipelineExecutions")
def list_pipeline_executions(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    pipeline = get_pipeline(engine, params["PipelineName"])
    records = [
        {
            **r,
            "StartTime": r["CreationTime"],
            **(
                {"PipelineExecutionFailureReason": r["FailureReason"]}
                if r.get("FailureReason")
                else {}
            ),
        }
        for r in engine.store.all(KIND)
        if r["PipelineArn"] == pipeline["PipelineArn"]
    ]
    return EXECUTIONS.list(engine, {**params, "SortBy": "CreationTime"}, records)


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
    return paged("PipelineExecutionSteps", steps, params, default_size=50)


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
    if record["PipelineExecutionStatus"] != "Executing":
        # AWS's wording, which the Amazon provider's hook matches to tell "already finished"
        # from other ValidationExceptions (SageMakerHook.stop_pipeline).
        raise ValidationError(
            "Only pipelines with 'Executing' status can be stopped. Pipeline execution "
            f"{arn} is in {record['PipelineExecutionStatus']!r} status."
        )
    engine.store.update(KIND, arn, lambda r: r.update(PipelineExecutionStatus="Stopping"))
    engine.stop_job(KIND, arn)
    return {"PipelineExecutionArn": arn}
