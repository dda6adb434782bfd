"""SageMaker's wire protocol (JSON 1.1) checked against botocore's own service model.

Validating every request with botocore's model is what makes "it worked offline" mean "the
request is well-formed for AWS": an unknown field, a wrong type or a missing required member is
refused here with the ValidationException AWS would send.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from emulator.sagemaker.errors import SageMakerError, UnknownOperation, ValidationError

TARGET_PREFIX = "SageMaker."


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_model(action: str) -> OperationModel:
    try:
        return service_model().operation_model(action)
    except Exception as exc:  # botocore raises OperationNotFoundError
        raise UnknownOperation(f"Operation {action} is not supported by SageMaker.") from exc


def _decode(value: Any, shape: Shape) -> Any:
    """Turn JSON wire values into the Python types botocore's validator expects."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            key: _decode(item, shape.members[key]) if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _decode(item, shape.value) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def parse_request(action: str, body: bytes) -> dict[str, Any]:
    """Decode and validate one request body; raises ValidationError as AWS would."""
    model = operation_model(action)
    try:
        raw = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValidationError(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValidationError("Request body must be a JSON object.")
    if model.input_shape is None:
        return raw
    params = _decode(raw, model.input_shape)
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ValidationError(report.generate_report())
    return params


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def encode_response(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, default=_encode).encode()


def encode_error(error: SageMakerError) -> bytes:
    return json.dumps({"__type": error.code, "message": error.message}).encode()
