"""Every SageMaker response the emulator tests receive, checked against botocore's output shape.

The emulator must answer as the service does: a member the model marks required must be there,
an enum value must be one of the enum's, and every value must have its shape's type. SDK code
reads those members without a default (``Estimator.attach`` read ``OutputDataConfig.KmsKeyId``),
so a response that passes here is one such code can read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import Shape

TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (dt.datetime,),
    "blob": (bytes, bytearray),
}


def shape_problems(value: Any, shape: Shape, path: str) -> list[str]:
    """What in ``value`` does not fit ``shape``, one line each, with the member's path."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, expected a structure"]
        problems = [
            f"{path}.{name}: required member missing"
            for name in shape.required_members
            if name not in value
        ]
        for name, item in value.items():
            if name in shape.members:
                problems += shape_problems(item, shape.members[name], f"{path}.{name}")
            elif name != "ResponseMetadata":
                problems.append(f"{path}.{name}: not a member of {shape.name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, expected a list"]
        return [
            p for i, v in enumerate(value) for p in shape_problems(v, shape.member, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, expected a map"]
        return [
            p for k, v in value.items() for p in shape_problems(v, shape.value, f"{path}[{k!r}]")
        ]
    expected = TYPES.get(kind)
    if expected and (
        not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))
    ):
        return [f"{path}: {type(value).__name__} {value!r:.40}, expected {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} is not one of {shape.enum}"]
    return []


class ResponseShapeChecker:
    """Registered on a boto3 session: records what each SageMaker response gets wrong."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def __call__(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code >= 300 or model.output_shape is None:
            return
        self.checked += 1
        self.problems += shape_problems(parsed, model.output_shape, model.name)

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems
