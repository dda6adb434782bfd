"""The expression language of SageMaker Pipeline definitions, evaluated for one execution.

- ``{"Get": "Parameters.X"}``, ``{"Get": "Execution.PipelineExecutionId"}`` and
  ``{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}`` (paths into the step's Describe*
  response, with ``[0]`` and ``['OutputName']`` for list members);
- ``{"Std:Join": {"On": "/", "Values": [...]}}``;
- ``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
  "Path": "metrics.accuracy.value"}}``: a value read from a step's property file in S3;
- conditions: Equals, GreaterThan(OrEqualTo), LessThan(OrEqualTo), In, Not, Or.

An expression that cannot be evaluated raises ExpressionError naming what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

TOKEN = re.compile(r"\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


class ExpressionError(Exception):
    """An expression of the definition that cannot be evaluated; the message says why."""


def path_tokens(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = TOKEN.match(path, position)
        if match is None:
            raise ExpressionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, index, single, double = match.groups()
        tokens.append(int(index) if index is not None else (name or single or double or ""))
        position = match.end()
    return tokens


def walk(value: Any, tokens: list[str | int], where: str) -> Any:
    """Follow ``tokens`` into a Describe* response; a list member may be picked by its name."""
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(value, list) or token >= len(value):
                raise ExpressionError(f"{where}: no item [{token}]")
            value = value[token]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list):
            named = [
                item
                for item in value
                if isinstance(item, dict)
                and any(k.endswith("Name") and v == token for k, v in item.items())
            ]
            if not named:
                raise ExpressionError(f"{where}: no item named {token!r}")
            value = named[0]
        else:
            raise ExpressionError(f"{where}: no property {token!r}")
    return value


def json_path(document: Any, path: str, where: str) -> Any:
    """``metrics.accuracy.value`` or ``a.b[0].c`` into a JSON document."""
    try:
        return walk(document, path_tokens(path), where)
    except ExpressionError as exc:
        raise ExpressionError(f"JsonGet {path!r}: {exc}") from exc


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Evaluator:
    """Resolves expressions against an execution's parameters, variables and finished steps.

    ``step_properties(name)`` returns the Describe* response of a step that succeeded (raising
    ExpressionError otherwise); ``read_property_file(step, file)`` returns the parsed JSON.
    """

    def __init__(
        self,
        parameters: dict[str, Any],
        execution: dict[str, Any],
        step_properties: Callable[[str], dict[str, Any]],
        read_property_file: Callable[[str, str], Any],
    ) -> None:
        self.parameters = parameters
        self.execution = execution
        self.step_properties = step_properties
        self.read_property_file = read_property_file

    def get(self, path: str) -> Any:
        root, _, rest = path.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"parameter {rest!r} is not defined in the pipeline")
            return self.parameters[rest]
        if root == "Execution":
            if rest not in self.execution:
                raise ExpressionError(f"execution variable {rest!r} is not supported")
            return self.execution[rest]
        if root == "Steps":
            tokens = path_tokens(rest)
            if not tokens or not isinstance(tokens[0], str):
                raise ExpressionError(f"bad step reference {path!r}")
            step = tokens[0]
            return walk(self.step_properties(step), tokens[1:], f"Steps.{step}")
        raise ExpressionError(f"cannot resolve {{'Get': {path!r}}}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self.get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return as_text(self.resolve(join.get("On", ""))).join(
                as_text(self.resolve(item)) for item in join.get("Values", [])
            )
        if set(value) == {"Std:JsonGet"}:
            return self.json_get(value["Std:JsonGet"])
        return {key: self.resolve(item) for key, item in value.items()}

    def json_get(self, spec: dict[str, Any]) -> Any:
        reference = spec.get("PropertyFile")
        target = reference.get("Get", "") if isinstance(reference, dict) else ""
        match = re.fullmatch(r"Steps\.([^.]+)\.PropertyFiles\.(.+)", target)
        if match is None:
            raise ExpressionError(f"JsonGet needs a step's property file, got {reference!r}")
        step, name = match.groups()
        document = self.read_property_file(step, name)
        return json_path(document, self.resolve(spec["Path"]), f"{step}.{name}")

    def condition(self, condition: dict[str, Any]) -> bool:
        kind = condition.get("Type")
        if kind in COMPARISONS:
            left = self.resolve(condition["LeftValue"])
            right = self.resolve(condition["RightValue"])
            left, right = comparable(left, right, kind)
            return COMPARISONS[kind](left, right)
        if kind == "In":
            query = self.resolve(condition["QueryValue"])
            return any(query == self.resolve(item) for item in condition["Values"])
        if kind == "Not":
            return not self.condition(condition["Condition"])
        if kind == "Or":
            return any(self.condition(item) for item in condition["Conditions"])
        raise ExpressionError(f"condition type {kind!r} is not supported")


def comparable(left: Any, right: Any, kind: str) -> tuple[Any, Any]:
    """Numbers compare as numbers (a JsonGet value against a Float parameter, say)."""
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left, right
    if kind == "Equals":
        return left, right
    try:
        return float(left), float(right)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from exc


def step_references(value: Any) -> Iterator[str]:
    """Names of the steps an expression reads (``Steps.<name>...``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str) and item.startswith("Steps."):
                name = path_tokens(item[len("Steps.") :])[0]
                yield str(name)
            else:
                yield from step_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from step_references(item)


def parse_definition(text: str) -> dict[str, Any]:
    try:
        definition = json.loads(text)
    except ValueError as exc:
        raise ExpressionError(f"the pipeline definition is not valid JSON: {exc}") from exc
    if not isinstance(definition, dict) or not isinstance(definition.get("Steps"), list):
        raise ExpressionError("the pipeline definition has no Steps list")
    return definition
