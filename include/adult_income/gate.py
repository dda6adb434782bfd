"""The accuracy gate: does evaluation.json clear the threshold?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class GateError(ValueError):
    """evaluation.json lacks a usable accuracy; the gate refuses to guess."""


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    accuracy: float
    threshold: float

    @property
    def reason(self) -> str:
        relation = ">=" if self.passed else "<"
        return f"accuracy {self.accuracy:.4f} {relation} threshold {self.threshold:.4f}"


def accuracy_of(evaluation: dict[str, Any]) -> float:
    """``metrics.accuracy.value``, the seed's metric path, as a finite number in [0, 1]."""
    try:
        value = evaluation["metrics"]["accuracy"]["value"]
    except (KeyError, TypeError) as exc:
        raise GateError("evaluation.json has no metrics.accuracy.value") from exc
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GateError(f"metrics.accuracy.value is not a number: {value!r}")
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise GateError(f"metrics.accuracy.value is out of [0, 1]: {value!r}")
    return float(value)


def decide(evaluation: dict[str, Any], threshold: float) -> GateDecision:
    accuracy = accuracy_of(evaluation)
    return GateDecision(passed=accuracy >= threshold, accuracy=accuracy, threshold=threshold)
