"""The provider's SageMaker operators, made safe to retry, clear and backfill (attach-or-create).

Each job's name derives from (dag_id, run_id, task_id). Before creating, the operator looks at
the attempts that exist under that name:

- the newest attempt is InProgress/Stopping -> wait for it (attach), never start a twin;
- it is Completed -> reuse it, no new job;
- it is Failed/Stopped -> start the next attempt (``-a2``, ``-a3`` ...);
- none exists -> create attempt 1.

The request body comes from ``build_config(context, job_name)``: a small function that calls
the pure builders in requests.py. The provider's "timestamp" renaming is switched off
(``action_if_job_exists="fail"``): a name decided here is the name used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerProcessingOperator,
    SageMakerRegisterModelVersionOperator,
    SageMakerStartPipelineOperator,
    SageMakerTrainingOperator,
    serialize,
)
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerPipelineTrigger
from botocore.exceptions import ClientError

from include.adult_income import names

ConfigBuilder = Callable[[Any, str], dict[str, Any]]
IN_PROGRESS = {"InProgress", "Stopping"}
ENDPOINT_BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
REUSABLE = {"Completed"}
MAX_ATTEMPTS = 20


def is_not_found(error: ClientError) -> bool:
    # SageMaker answers "no such job/model" with ValidationException, not ResourceNotFound.
    return error.response.get("Error", {}).get("Code") in {
        "ValidationException",
        "ResourceNotFound",
    }


def newest_attempt(
    base_name: str, describe: Callable[[str], dict[str, Any]]
) -> tuple[int, dict[str, Any] | None]:
    """(attempt, description) of the newest existing attempt; (0, None) if there is none."""
    found: tuple[int, dict[str, Any] | None] = (0, None)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = base_name if attempt == 1 else f"{base_name}-a{attempt}"
        try:
            found = (attempt, describe(name))
        except ClientError as error:
            if is_not_found(error):
                return found
            raise
    return found


def decide_job(
    base_name: str, describe: Callable[[str], dict[str, Any]], status_key: str
) -> tuple[str, str, dict[str, Any] | None]:
    """("create" | "attach" | "reuse", job name, description) for the job ``base_name``."""
    attempt, description = newest_attempt(base_name, describe)
    if description is None:
        return "create", base_name, None
    status = description[status_key]
    name = base_name if attempt == 1 else f"{base_name}-a{attempt}"
    if status in IN_PROGRESS:
        return "attach", name, description
    if status in REUSABLE:
        return "reuse", name, description
    if attempt >= MAX_ATTEMPTS:
        raise RuntimeError(f"{base_name}: {MAX_ATTEMPTS} attempts failed; giving up")
    return "create", f"{base_name}-a{attempt + 1}", None


def base_job_name(context: Any) -> str:
    ti = context["ti"]
    return names.resource_name(ti.dag_id, context["run_id"], ti.task_id)


class AttachOrCreateProcessingOperator(SageMakerProcessingOperator):
    """SageMakerProcessingOperator that never launches a duplicate of its run's job."""

    def __init__(self, *, build_config: ConfigBuilder, **kwargs: Any) -> None:
        super().__init__(config={}, action_if_job_exists="fail", **kwargs)
        self.build_config = build_config

    def execute(self, context: Any) -> dict:
        verdict, name, description = decide_job(
            base_job_name(context), self.hook.describe_processing_job, "ProcessingJobStatus"
        )
        self.config = self.build_config(context, name)
        if verdict == "create":
            self.log.info("Creating processing job %s.", name)
            return super().execute(context)
        if verdict == "attach":
            self.log.info("Processing job %s is already running: waiting for it.", name)
            self.hook.check_status(
                name,
                "ProcessingJobStatus",
                self.hook.describe_processing_job,
                self.check_interval,
                self.max_ingestion_time,
            )
            description = self.hook.describe_processing_job(name)
        else:
            self.log.info("Processing job %s already completed: reusing it.", name)
        self.serialized_job = serialize(description)
        return {"Processing": self.serialized_job}


class AttachOrCreateTrainingOperator(SageMakerTrainingOperator):
    """SageMakerTrainingOperator that never launches a duplicate of its run's training job."""

    def __init__(self, *, build_config: ConfigBuilder, **kwargs: Any) -> None:
        super().__init__(config={}, action_if_job_exists="fail", **kwargs)
        self.build_config = build_config

    def execute(self, context: Any) -> dict:
        verdict, name, description = decide_job(
            base_job_name(context), self.hook.describe_training_job, "TrainingJobStatus"
        )
        self.config = self.build_config(context, name)
        if verdict == "create":
            self.log.info("Creating training job %s.", name)
            return super().execute(context)
        if verdict == "attach":
            self.log.info("Training job %s is already running: waiting for it.", name)
            if self.print_log:
                self.hook.check_training_status_with_log(
                    name,
                    self.hook.non_terminal_states,
                    self.hook.training_failed_states,
                    True,
                    self.check_interval,
                    self.max_ingestion_time,
                )
            else:
                self.hook.check_status(
                    name,
                    "TrainingJobStatus",
                    self.hook.describe_training_job,
                    self.check_interval,
                    self.max_ingestion_time,
                )
            description = self.hook.describe_training_job(name)
        else:
            self.log.info("Training job %s already completed: reusing it.", name)
        status = description["TrainingJobStatus"]
        if status != "Completed":
            raise RuntimeError(
                f"training job {name} ended {status}: {description.get('FailureReason')}"
            )
        self.serialized_training_data = serialize(description)
        return {"Training": self.serialized_training_data}


class CreateOrReuseModelOperator(SageMakerModelOperator):
    """SageMakerModelOperator that reuses the run's model when it already exists."""

    def __init__(self, *, build_config: ConfigBuilder, **kwargs: Any) -> None:
        super().__init__(config={}, **kwargs)
        self.build_config = build_config

    def execute(self, context: Any) -> dict:
        name = base_job_name(context)
        self.config = self.build_config(context, name)
        try:
            existing = self.hook.describe_model(name)
        except ClientError as error:
            if not is_not_found(error):
                raise
            self.log.info("Creating model %s.", name)
            return super().execute(context)
        self.log.info("Model %s already exists: reusing it.", name)
        return {"Model": serialize(existing)}


def registered_version(sagemaker: Any, group_name: str, training_job: str) -> dict[str, Any] | None:
    """The group's version already registered for ``training_job``, if any."""
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group_name, ModelPackageType="Versioned"
        )
        for page in pages:
            for summary in page["ModelPackageSummaryList"]:
                package = sagemaker.describe_model_package(
                    ModelPackageName=summary["ModelPackageArn"]
                )
                properties = package.get("CustomerMetadataProperties", {})
                if properties.get("training_job") == training_job:
                    return package
    except ClientError as error:
        if is_not_found(error):
            return None  # no group yet, so nothing registered
        raise
    return None


class RegisterOnceOperator(SageMakerRegisterModelVersionOperator):
    """Registers a training job's model at most once: a retry returns the existing version.

    ``build_request(context)`` returns the CreateModelPackage body (requests.py); its
    CustomerMetadataProperties must carry ``training_job``, the key looked up here.
    """

    def __init__(self, *, build_request: Callable[[Any], dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(image_uri="", model_url="", package_group_name="", **kwargs)
        self.build_request = build_request

    def execute(self, context: Any) -> str:
        request = self.build_request(context)
        training_job = request["CustomerMetadataProperties"]["training_job"]
        group = request["ModelPackageGroupName"]
        existing = registered_version(self.hook.conn, group, training_job)
        if existing is not None:
            self.log.info(
                "Training job %s is already registered as %s: not registering again.",
                training_job,
                existing["ModelPackageArn"],
            )
            return existing["ModelPackageArn"]
        container = request["InferenceSpecification"]["Containers"][0]
        self.image_uri = container["Image"]
        self.model_url = container["ModelDataUrl"]
        self.package_group_name = group
        self.package_desc = request["ModelPackageDescription"]
        self.extras = {
            key: value
            for key, value in request.items()
            if key not in {"ModelPackageGroupName", "ModelPackageDescription"}
        }
        return super().execute(context)


class DeployEndpointOperator(SageMakerEndpointOperator):
    """SageMakerEndpointOperator that creates the endpoint, or updates it in place, to serve
    this run's endpoint config (named after (dag, run, task)); safe to retry:

    - the run's endpoint config already exists (a retry) -> it is not created again;
    - the endpoint already serves it -> nothing to do;
    - the endpoint is busy (Creating/Updating) -> wait for it first, then decide;
    - the endpoint is Failed (AWS refuses to update those) -> delete it, then create it.

    ``build_config(context, config_name)`` returns ``{"EndpointConfig": ..., "Endpoint": ...}``.
    """

    def __init__(self, *, build_config: ConfigBuilder, **kwargs: Any) -> None:
        super().__init__(config={}, operation="create", **kwargs)
        self.build_config = build_config

    def describe_or_none(self, describe: Callable[[str], dict], name: str) -> dict | None:
        try:
            return describe(name)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def settled_endpoint(self, name: str) -> dict | None:
        """The endpoint once no change is in progress on it; None if it does not exist."""
        while True:
            endpoint = self.describe_or_none(self.hook.describe_endpoint, name)
            if endpoint is None or endpoint["EndpointStatus"] not in ENDPOINT_BUSY:
                return endpoint
            self.log.info("Endpoint %s is %s: waiting.", name, endpoint["EndpointStatus"])
            time.sleep(self.check_interval)

    def execute(self, context: Any) -> dict:
        config_name = base_job_name(context)
        self.config = self.build_config(context, config_name)
        endpoint_name = self.config["Endpoint"]["EndpointName"]
        if self.describe_or_none(self.hook.describe_endpoint_config, config_name) is not None:
            self.log.info("Endpoint config %s exists (a retry): not creating it.", config_name)
            self.config.pop("EndpointConfig")
        endpoint = self.settled_endpoint(endpoint_name)
        if endpoint is not None and endpoint["EndpointStatus"] == "Failed":
            self.log.warning(
                "Endpoint %s is Failed (%s): deleting it to create it again.",
                endpoint_name,
                endpoint.get("FailureReason"),
            )
            self.hook.conn.delete_endpoint(EndpointName=endpoint_name)
            while self.describe_or_none(self.hook.describe_endpoint, endpoint_name) is not None:
                time.sleep(self.check_interval)
            endpoint = None
        if endpoint is not None and endpoint["EndpointConfigName"] == config_name:
            self.log.info("Endpoint %s already serves %s.", endpoint_name, config_name)
            return {
                "EndpointConfig": serialize(self.hook.describe_endpoint_config(config_name)),
                "Endpoint": serialize(endpoint),
            }
        self.operation = "create" if endpoint is None else "update"
        return super().execute(context)


def executions_by_display_name(sagemaker: Any, pipeline_name: str) -> dict[str, dict[str, Any]]:
    """The pipeline's executions, newest first per display name."""
    found: dict[str, dict[str, Any]] = {}
    pages = sagemaker.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline_name, SortOrder="Descending"
    )
    for page in pages:
        for summary in page["PipelineExecutionSummaries"]:
            found.setdefault(summary.get("PipelineExecutionDisplayName", ""), summary)
    return found


class AttachOrStartPipelineOperator(SageMakerStartPipelineOperator):
    """SageMakerStartPipelineOperator that never starts a second execution for its run.

    The execution's display name derives from (dag, run, task). An Executing one is waited for,
    a Succeeded one is reused, a Failed/Stopped one gets a new attempt (``-a2``, ...), as the
    job operators do. ``build_params(context)`` gives the PipelineParameters.
    """

    def __init__(self, *, build_params: Callable[[Any], dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(wait_for_completion=True, **kwargs)
        self.build_params = build_params

    def execute(self, context: Any) -> str:
        base = base_job_name(context)
        # decide_job speaks the jobs' statuses: Executing is InProgress, Succeeded is Completed.
        translate = {"Executing": "InProgress", "Succeeded": "Completed"}
        executions = executions_by_display_name(self.hook.conn, self.pipeline_name)
        attempts = {}
        for display_name, summary in executions.items():
            status = summary["PipelineExecutionStatus"]
            attempts[display_name] = {**summary, "Status": translate.get(status, status)}

        def describe(name: str) -> dict[str, Any]:
            if name not in attempts:
                raise ClientError({"Error": {"Code": "ResourceNotFound", "Message": name}}, "List")
            return attempts[name]

        verdict, name, found = decide_job(base, describe, "Status")
        self.pipeline_params = self.build_params(context)
        self.display_name = name
        if verdict == "create":
            self.log.info("Starting pipeline execution %s.", name)
            return super().execute(context)
        assert found is not None
        arn = found["PipelineExecutionArn"]
        if verdict == "reuse":
            self.log.info("Execution %s already succeeded: reusing %s.", name, arn)
            return arn
        self.log.info("Execution %s is running: waiting for %s.", name, arn)
        if self.deferrable:
            self.defer(
                trigger=SageMakerPipelineTrigger(
                    waiter_type=SageMakerPipelineTrigger.Type.COMPLETE,
                    pipeline_execution_arn=arn,
                    waiter_delay=self.check_interval,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        self.hook.check_status(
            arn,
            "PipelineExecutionStatus",
            lambda p: self.hook.describe_pipeline_exec(p, self.verbose),
            self.check_interval,
            non_terminal_states=self.hook.pipeline_non_terminal_states,
            max_ingestion_time=self.waiter_max_attempts * self.check_interval,
        )
        return arn
