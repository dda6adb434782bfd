"""SageMaker Pipelines: Create/Update/Describe/Delete/List Pipeline.

A pipeline is its definition JSON plus metadata; every UpdatePipeline that changes the
definition is a new version, and an execution keeps the version it started with
(pipeline_executions.py starts them, pipeline_steps.py runs their steps).
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.lifecycle import Resource, now
from emulator.sagemaker.pipeline_expressions import ExpressionError, parse_definition
from emulator.sagemaker.registry import action

KIND = "Pipeline"


def pipeline_name(name_or_arn: str) -> str:
    return name_or_arn.split(":pipeline/", 1)[-1].split("/", 1)[0]


PIPELINES = Resource(
    KIND,
    missing="Pipeline '{arn}' does not exist.",
    missing_error=ResourceNotFound,
    duplicate="Pipeline names must be unique within an AWS account and region. Pipeline with "
    "name ({name}) already exists.",
    duplicate_error=ValidationError,
    key=pipeline_name,
    summary_keys=(
        "PipelineArn",
        "PipelineName",
        "PipelineDisplayName",
        "PipelineDescription",
        "RoleArn",
        "CreationTime",
        "LastModifiedTime",
        "LastExecutionTime",
    ),
    created_window=True,
    hidden=("PipelineVersionId",),  # answered by UpdatePipeline, never by DescribePipeline
)
PIPELINES.register("DescribePipeline")


def get_pipeline(engine: Engine, name_or_arn: str) -> dict[str, Any]:
    return PIPELINES.get(engine, name_or_arn)


def definition_text(params: dict[str, Any]) -> str:
    if "PipelineDefinitionS3Location" in params:
        raise ValidationError("PipelineDefinitionS3Location is not emulated; send the JSON.")
    text = params.get("PipelineDefinition")
    if not text:
        raise ValidationError("PipelineDefinition is required.")
    try:
        parse_definition(text)
    except ExpressionError as exc:
        raise ValidationError(str(exc)) from exc
    return text


@action("CreatePipeline")
def create_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["PipelineName"]
    members = {
        "PipelineName": name,
        "PipelineDisplayName": params.get("PipelineDisplayName", name),
        "PipelineDefinition": definition_text(params),
        "PipelineDescription": params.get("PipelineDescription", ""),
        "RoleArn": params["RoleArn"],
        "PipelineStatus": "Active",
        "PipelineVersionId": 1,
    }
    if "ParallelismConfiguration" in params:
        members["ParallelismConfiguration"] = params["ParallelismConfiguration"]
    record = PIPELINES.new(PIPELINES.arn(engine, name), members)
    return {"PipelineArn": PIPELINES.create(engine, record, params.get("Tags", []))}


@action("UpdatePipeline")
def update_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        pipeline = get_pipeline(engine, params["PipelineName"])
        text = definition_text(params) if "PipelineDefinition" in params else None
        if text is not None and text != pipeline["PipelineDefinition"]:
            pipeline["PipelineDefinition"] = text
            pipeline["PipelineVersionId"] += 1
        for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn"):
            if key in params:
                pipeline[key] = params[key]
        if "ParallelismConfiguration" in params:
            pipeline["ParallelismConfiguration"] = params["ParallelismConfiguration"]
        pipeline["LastModifiedTime"] = now()
        return {
            "PipelineArn": pipeline["PipelineArn"],
            "PipelineVersionId": pipeline["PipelineVersionId"],
        }


@action("DeletePipeline")
def delete_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return {"PipelineArn": PIPELINES.delete(engine, params["PipelineName"])["PipelineArn"]}


@action("ListPipelines")
def list_pipelines(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    records = engine.store.all(KIND)
    prefix = params.get("PipelineNamePrefix")
    if prefix:
        records = [r for r in records if r["PipelineName"].startswith(prefix)]
    sort_by = {"Name": "Name"}.get(params.get("SortBy", ""), "CreationTime")
    return PIPELINES.list(engine, {**params, "SortBy": sort_by}, records)
