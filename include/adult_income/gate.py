"""The accuracy gate: does evaluation.json clear the threshold?

Accuracy means something only on a test set holding both classes: one of ``<=50K`` rows alone
scores 1.0 for a model that always answers ``<=50K``. So the gate first reads the test set's
class counts, ``test_rows`` (written by include/scripts/evaluate.py), or, in an evaluation.json
older than that key, the confusion matrix's row sums; a test set of one class (or none) does not
pass, whatever its accuracy. With neither in the file the gate goes by accuracy alone, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

POSITIVE_LABEL = ">50K"  # label 1
NEGATIVE_LABEL = "<=50K"  # label 0


class GateError(ValueError):
    """evaluation.json lacks a usable accuracy (or has malformed class counts); the gate refuses
    to guess."""


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    accuracy: float
    threshold: float
    # Why the evaluation cannot pass whatever its accuracy (a one-class test set); None if it is
    # judged on accuracy.
    refusal: str | None = None

    @property
    def reason(self) -> str:
        if self.refusal is not None:
            return self.refusal
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


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def class_counts(evaluation: dict[str, Any]) -> tuple[int, int] | None:
    """(positive, negative) rows of the test set, or None when the file does not say."""
    rows = evaluation.get("test_rows")
    if rows is not None:
        if not isinstance(rows, dict) or not all(
            is_count(rows.get(key)) for key in ("positive", "negative")
        ):
            raise GateError(f"test_rows needs counts 'positive' and 'negative': {rows!r}")
        positive, negative = rows["positive"], rows["negative"]
        if "total" in rows and rows["total"] != positive + negative:
            raise GateError(f"test_rows: total is not positive + negative: {rows!r}")
        return positive, negative
    metrics = evaluation.get("metrics")
    matrix = metrics.get("confusion_matrix") if isinstance(metrics, dict) else None
    if isinstance(matrix, dict) and all(is_count(matrix.get(k)) for k in ("tn", "fp", "fn", "tp")):
        return matrix["fn"] + matrix["tp"], matrix["tn"] + matrix["fp"]
    return None


def one_class_refusal(evaluation: dict[str, Any]) -> str | None:
    """Why accuracy on this test set says nothing, or None."""
    counts = class_counts(evaluation)
    if counts is None:
        return None
    positive, negative = counts
    if positive + negative == 0:
        return "test set holds no rows: accuracy says nothing"
    if positive == 0 or negative == 0:
        label = NEGATIVE_LABEL if positive == 0 else POSITIVE_LABEL
        total = positive + negative
        return f"test set holds one class ({total} rows, all {label!r}): accuracy says nothing"
    return None


def decide(evaluation: dict[str, Any], threshold: float) -> GateDecision:
    accuracy = accuracy_of(evaluation)
    refusal = one_class_refusal(evaluation)
    if refusal is not None:
        return GateDecision(passed=False, accuracy=accuracy, threshold=threshold, refusal=refusal)
    return GateDecision(passed=accuracy >= threshold, accuracy=accuracy, threshold=threshold)
