"""Endpoints: Create/Describe/Update/Delete/List Endpoint, and SageMaker Runtime InvokeEndpoint.

CreateEndpoint answers at once with ``Creating``; a thread downloads each variant's model and
starts its model-server workers, then the endpoint is ``InService`` (or ``Failed`` with the
reason when a model cannot load). UpdateEndpoint starts the new configuration beside the old one
and swaps them only once every new worker is ready, so requests are answered throughout; a
failed update leaves the old configuration serving, with the reason in FailureReason, as AWS
rolls back.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.sagemaker import hosting, jobs, lineage
from emulator.sagemaker.endpoint_configs import CONFIGS
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.jobs import confined, now
from emulator.sagemaker.lifecycle import Resource, hosting_errors
from emulator.sagemaker.log_streams import LogFollower
from emulator.sagemaker.registry import action, runtime_route

KIND = "Endpoint"
LOG_GROUP = "/aws/sagemaker/Endpoints"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit
BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


ENDPOINTS = Resource(
    KIND,
    **hosting_errors("endpoint"),
    list_key="Endpoints",
    summary_keys=(
        "EndpointName",
        "EndpointArn",
        "CreationTime",
        "LastModifiedTime",
        "EndpointStatus",
    ),
    status_key="EndpointStatus",
    hidden=("Generation",),  # which deployment may still change the endpoint
)
ENDPOINTS.register("DescribeEndpoint", "ListEndpoints")


def log_group(endpoint: str) -> str:
    """Where SageMaker sends the endpoint's container logs (one stream per instance)."""
    return f"{LOG_GROUP}/{endpoint}"


@dataclass
class Variant:
    name: str
    weight: float
    pool: hosting.WorkerPool
    summary: dict[str, Any]


@dataclass
class Deployment:
    """The variants of one endpoint configuration, each with its running workers."""

    config_name: str
    variants: list[Variant] = field(default_factory=list)
    # One per variant, started before its workers so a model that fails to load logs too.
    followers: list[LogFollower] = field(default_factory=list)

    def pick(self, target: str | None) -> Variant:
        if target:
            for variant in self.variants:
                if variant.name == target:
                    return variant
            raise ValidationError(f"Variant {target} not found for this endpoint.")
        weights = [max(variant.weight, 0.0) for variant in self.variants]
        if not any(weights):
            raise ValidationError("Every production variant of this endpoint has weight 0.")
        return random.choices(self.variants, weights=weights)[0]

    def stop(self) -> None:
        for variant in self.variants:
            variant.pool.stop()
        for follower in self.followers:
            follower.stop()


def start_deployment(
    engine: Engine, endpoint: str, config_name: str, generation: int
) -> Deployment:
    """Bring up every variant of ``config_name``; stops what it started if one fails."""
    config = engine.store.find(CONFIGS.kind, config_name)
    if config is None:
        raise hosting.HostingFailure(CONFIGS.missing.format(name=config_name))
    deployment = Deployment(config_name)
    root = engine.local_path("endpoints", endpoint, f"generation-{generation}")
    try:
        for spec in copy.deepcopy(config["ProductionVariants"]):
            # prepare_model empties this directory: it must stay under the endpoint's.
            variant_dir = confined(root, spec["VariantName"])
            served = hosting.prepare_model(engine, spec["ModelName"], variant_dir)
            count = int(spec.get("InitialInstanceCount", 1))
            logs = variant_dir / "logs"
            follower = LogFollower(engine, log_group(endpoint), spec["VariantName"], logs)
            deployment.followers.append(follower.start())
            pool = hosting.WorkerPool.start(served, count, logs)
            model = engine.store.find("Model", spec["ModelName"]) or {}
            image = hosting.container_of(model).get("Image", "") if model else ""
            summary = {
                "VariantName": spec["VariantName"],
                "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}],
                "CurrentWeight": float(spec.get("InitialVariantWeight", 1.0)),
                "DesiredWeight": float(spec.get("InitialVariantWeight", 1.0)),
                "CurrentInstanceCount": len(pool.workers),
                "DesiredInstanceCount": count,
            }
            weight = float(spec.get("InitialVariantWeight", 1.0))
            deployment.variants.append(Variant(spec["VariantName"], weight, pool, summary))
    except BaseException:
        deployment.stop()
        raise
    return deployment


def deploy(engine: Engine, endpoint: str, config_name: str, generation: int) -> None:
    """Runs in its own thread: serve ``config_name`` on ``endpoint`` and record the outcome."""
    try:
        deployment = start_deployment(engine, endpoint, config_name, generation)
        failure = None
    except hosting.HostingFailure as exc:
        deployment, failure = None, str(exc)
    except Exception as exc:
        deployment, failure = None, jobs.emulator_fault(f"deploying endpoint {endpoint}", exc)
    with engine.store.lock:
        record = engine.store.find(KIND, endpoint)
        if record is None or record.get("Generation") != generation:  # deleted or superseded
            if deployment is not None:
                deployment.stop()
            return
        previous = engine.deployments.get(endpoint)
        moment = now()
        if deployment is not None:
            engine.deployments[endpoint] = deployment
            record.update(
                EndpointStatus="InService",
                EndpointConfigName=config_name,
                ProductionVariants=[v.summary for v in deployment.variants],
                LastModifiedTime=moment,
            )
            record.pop("FailureReason", None)
            record.pop("PendingDeploymentSummary", None)
            engine.register_stopper(KIND, endpoint, lambda: stop_serving(engine, endpoint))
        elif previous is not None:  # a failed update rolls back to what is serving
            record.update(EndpointStatus="InService", LastModifiedTime=moment)
            record["FailureReason"] = (
                f"Update to {config_name} failed and was rolled back: {failure}"
            )
            record.pop("PendingDeploymentSummary", None)
        else:
            record.update(EndpointStatus="Failed", FailureReason=failure, LastModifiedTime=moment)
    # The old workers finish the requests they hold (stop takes each worker's lock), then exit.
    if deployment is not None and previous is not None:
        previous.stop()


def stop_serving(engine: Engine, endpoint: str) -> None:
    with engine.store.lock:
        deployment = engine.deployments.pop(endpoint, None)
    engine.unregister_stopper(KIND, endpoint)
    if deployment is not None:
        deployment.stop()


def begin(engine: Engine, endpoint: str, config_name: str, generation: int) -> None:
    threading.Thread(
        target=deploy,
        args=(engine, endpoint, config_name, generation),
        name=f"deploy-{endpoint}",
        daemon=True,
    ).start()


@action("CreateEndpoint")
def create_endpoint(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name, config_name = params["EndpointName"], params["EndpointConfigName"]
    CONFIGS.get(engine, config_name)
    record = ENDPOINTS.new(
        ENDPOINTS.arn(engine, name),
        {
            "EndpointName": name,
            "EndpointConfigName": config_name,
            "EndpointStatus": "Creating",
            "Generation": 1,
        },
    )
    arn = ENDPOINTS.create(engine, record, params.get("Tags", []))
    lineage.record_endpoint(engine, record)
    begin(engine, name, config_name, 1)
    return {"EndpointArn": arn}


@action("UpdateEndpoint")
def update_endpoint(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name, config_name = params["EndpointName"], params["EndpointConfigName"]
    CONFIGS.get(engine, config_name)
    with engine.store.lock:
        record = ENDPOINTS.get(engine, name)
        status = record["EndpointStatus"]
        if status in BUSY:
            raise ValidationError(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')
        if status == "Failed":
            raise ValidationError(
                f'Cannot update failed endpoint "{record["EndpointArn"]}"; delete it and create '
                "it again."
            )
        generation = record["Generation"] + 1
        record.update(
            EndpointStatus="Updating",
            Generation=generation,
            LastModifiedTime=now(),
            PendingDeploymentSummary={"EndpointConfigName": config_name},
        )
    begin(engine, name, config_name, generation)
    return {"EndpointArn": record["EndpointArn"]}


@action("DeleteEndpoint")
def delete_endpoint(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointName"]
    ENDPOINTS.delete(engine, name)  # an in-flight deploy sees it gone and stops its workers
    stop_serving(engine, name)
    return {}


# --- SageMaker Runtime ----------------------------------------------------------------------
def runtime_error(code: str, status: int, message: str, **extra: Any) -> Response:
    body = {"message": message, "Message": message, **extra}
    return Response(
        json.dumps(body),
        status=status,
        headers={"x-amzn-ErrorType": code},
        content_type="application/json",
    )


def payload_too_large(size: int | None) -> Response:
    what = f"Request body of {size} bytes" if size is not None else "Request body"
    return runtime_error("ValidationError", 400, f"{what} exceeds the 6 MB limit.")


@runtime_route("invocations")
def invoke_endpoint(engine: Engine, endpoint: str, request: Request) -> Response:
    # Refused before the body is read into memory: by its declared length, and by reading at
    # most one byte past the limit when the length is not declared (chunked).
    declared = request.content_length
    if declared is not None and declared > MAX_PAYLOAD_BYTES:
        return payload_too_large(declared)
    body = request.stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(body) > MAX_PAYLOAD_BYTES:
        return payload_too_large(None)
    with engine.store.lock:
        record = engine.store.find(KIND, endpoint)
        deployment = engine.deployments.get(endpoint)
    if record is None or deployment is None:
        return runtime_error(
            "ValidationError", 400, f"Endpoint {endpoint} of account {engine.account_id} not found."
        )
    try:
        variant = deployment.pick(request.headers.get("X-Amzn-SageMaker-Target-Variant"))
    except ValidationError as exc:
        return runtime_error("ValidationError", 400, exc.message)
    answer = variant.pool.invoke(
        body, request.headers.get("Content-Type", ""), request.headers.get("Accept", "")
    )
    if answer.status != 200:
        original = answer.body.decode(errors="replace")
        kind = "client" if 400 <= answer.status < 500 else "server"
        log_stream = (
            f"arn:aws:logs:{engine.region}:{engine.account_id}:log-group:{log_group(endpoint)}"
        )
        return runtime_error(
            "ModelError",
            424,
            f'Received {kind} error ({answer.status}) from primary with message "{original}". '
            f"See {log_stream} for more information.",
            OriginalStatusCode=answer.status,
            OriginalMessage=original,
            LogStreamArn=log_stream,
        )
    return Response(
        answer.body,
        status=200,
        headers={"x-Amzn-Invoked-Production-Variant": variant.name},
        content_type=answer.content_type,
    )
