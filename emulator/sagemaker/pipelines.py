"""SageMaker Pipelines: Create/Update/Describe/Delete/List Pipeline.

A pipeline is its definition JSON plus metadata; every UpdatePipeline that changes the
definition is a new version, and an execution keeps the version it started with
(pipeline_executions.py starts them, pipeline_steps.py runs their steps).
"""

from __future__ import annotations

from typing import Any

from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, ValidationError
from emulator.sagemaker.jobs import now
from emulator.sagemaker.listing import list_response
from emulator.sagemaker.pipeline_expressions import ExpressionError, parse_definition
from emulator.sagemaker.registry import action

KIND = "Pipeline"


def pipeline_name(name_or_arn: str) -> str:
    return name_or_arn.split(":pipeline/", 1)[-1].split("/", 1)[0]


def get_pipeline(engine: Engine, name_or_arn: str) -> dict[str, Any]:
    name = pipeline_name(name_or_arn)
    record = engine.store.find(KIND, name)
    if record is None:
        raise ResourceNotFound(f"Pipeline '{engine.arn('pipeline', name)}' does not exist.")
    return record


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
    arn = engine.arn("pipeline", name)
    created = now()
    record = {
        "PipelineArn": arn,
        "PipelineName": name,
        "PipelineDisplayName": params.get("PipelineDisplayName", name),
        "PipelineDefinition": definition_text(params),
        "PipelineDescription": params.get("PipelineDescription", ""),
        "RoleArn": params["RoleArn"],
        "PipelineStatus": "Active",
        "CreationTime": created,
        "LastModifiedTime": created,
        "PipelineVersionId": 1,
    }
    if "ParallelismConfiguration" in params:
        record["ParallelismConfiguration"] = params["ParallelismConfiguration"]
    engine.store.create(
        KIND,
        name,
        record,
        duplicate_error=ValidationError,
        duplicate_message=f"Pipeline names must be unique within an AWS account and region. "
        f"Pipeline with name ({name}) already exists.",
    )
    engine.tags.set(arn, params.get("Tags", []))
    return {"PipelineArn": arn}


@action("UpdatePipeline")
def update_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_pipeline(engine, params["PipelineName"])
    text = definition_text(params) if "PipelineDefinition" in params else None

    def change(pipeline: dict[str, Any]) -> None:
        if text is not None and text != pipeline["PipelineDefinition"]:
            pipeline["PipelineDefinition"] = text
            pipeline["PipelineVersionId"] += 1
        for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn"):
            if key in params:
                pipeline[key] = params[key]
        if "ParallelismConfiguration" in params:
            pipeline["ParallelismConfiguration"] = params["ParallelismConfiguration"]
        pipeline["LastModifiedTime"] = now()

    engine.store.update(KIND, record["PipelineName"], change)
    updated = engine.store.snapshot(KIND, record["PipelineName"])
    return {
        "PipelineArn": updated["PipelineArn"],
        "PipelineVersionId": updated["PipelineVersionId"],
    }


@action("DescribePipeline")
def describe_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_pipeline(engine, params["PipelineName"])
    description = engine.store.snapshot(KIND, record["PipelineName"])
    description.pop("PipelineVersionId", None)
    return description


@action("DeletePipeline")
def delete_pipeline(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    record = get_pipeline(engine, params["PipelineName"])
    engine.store.delete(KIND, record["PipelineName"])
    return {"PipelineArn": record["PipelineArn"]}


@action("ListPipelines")
def list_pipelines(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    records = engine.store.all(KIND)
    prefix = params.get("PipelineNamePrefix")
    if prefix:
        records = [r for r in records if r["PipelineName"].startswith(prefix)]
    translated = dict(params)
    translated["CreationTimeAfter"] = params.get("CreatedAfter")
    translated["CreationTimeBefore"] = params.get("CreatedBefore")
    translated["SortBy"] = {"Name": "Name"}.get(params.get("SortBy", ""), "CreationTime")
    return list_response(
        records,
        translated,
        list_key="PipelineSummaries",
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
        name_key="PipelineName",
    )
