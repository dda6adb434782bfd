"""The accuracy gate: does evaluation.json clear the threshold, and does it hold its own against
the champion?

Accuracy means something only on a test set holding both classes: one of ``<=50K`` rows alone
scores 1.0 for a model that always answers ``<=50K``. So the gate first reads the test set's
class counts, ``test_rows`` (written by include/scripts/evaluate.py), or, in an evaluation.json
older than that key, the confusion matrix's row sums; a test set of one class (or none) does not
pass, whatever its accuracy. With neither in the file the gate goes by accuracy alone, as before.

Champion/challenger: evaluation.json's ``champion`` block is the group's current champion (its
newest Approved version) scored by the evaluate job on this run's test set. The challenger must
also reach the champion's accuracy minus ``max_regression``: a daily retrain that is worse than
the model already approved does not pass on the threshold alone. A champion the evaluate job
could not score on this test set (trained on another feature schema) cannot be compared; the
reason says so and the threshold decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

POSITIVE_LABEL = ">50K"  # label 1
NEGATIVE_LABEL = "<=50K"  # label 0


class GateError(ValueError):
    """evaluation.json lacks a usable accuracy (or has malformed class counts); the gate refuses
    to guess."""


@dataclass(frozen=True)
class ChampionScore:
    """The champion as the evaluate job scored it on this run's test set."""

    model_package_arn: str | None
    accuracy: float | None
    roc_auc: float | None
    # Why it could not be scored on this test set; None when it was.
    not_comparable: str | None = None

    @property
    def label(self) -> str:
        arn = self.model_package_arn or "the champion"
        return arn.rsplit("model-package/", 1)[-1]


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    accuracy: float
    threshold: float
    # Why the evaluation cannot pass whatever its accuracy (a one-class test set); None if it is
    # judged on accuracy.
    refusal: str | None = None
    champion: ChampionScore | None = None
    max_regression: float = 0.0

    @property
    def clears_threshold(self) -> bool:
        return self.accuracy >= self.threshold

    @property
    def champion_floor(self) -> float | None:
        """The accuracy the challenger must reach against the champion, if one was scored."""
        if self.champion is None or self.champion.accuracy is None:
            return None
        return self.champion.accuracy - self.max_regression

    @property
    def reason(self) -> str:
        if self.refusal is not None:
            return self.refusal
        relation = ">=" if self.clears_threshold else "<"
        text = f"accuracy {self.accuracy:.4f} {relation} threshold {self.threshold:.4f}"
        if not self.clears_threshold:
            return text
        champion, floor = self.champion, self.champion_floor
        if champion is None:
            return text + "; no approved champion to compare with"
        if floor is None:
            return text + f"; champion {champion.label} not compared: {champion.not_comparable}"
        relation = ">=" if self.accuracy >= floor else "<"
        return (
            text
            + f"; accuracy {relation} champion {champion.label}'s {champion.accuracy:.4f}"
            + f" on this test set minus max_regression {self.max_regression:.4f}"
        )


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


def optional_score(block: dict[str, Any], key: str) -> float | None:
    value = block.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateError(f"champion.{key} is not a finite number: {value!r}")
    if not 0 <= value <= 1:
        raise GateError(f"champion.{key} is out of [0, 1]: {value!r}")
    return float(value)


def champion_of(evaluation: dict[str, Any]) -> ChampionScore | None:
    """evaluation.json's ``champion`` block, checked; None when the group had no champion."""
    block = evaluation.get("champion")
    if block is None:
        return None
    if not isinstance(block, dict):
        raise GateError(f"champion is not an object: {block!r}")
    accuracy = optional_score(block, "accuracy")
    not_comparable = None
    if accuracy is None:
        not_comparable = block.get("reason") or "the evaluate job gave it no accuracy"
    return ChampionScore(
        model_package_arn=block.get("model_package_arn"),
        accuracy=accuracy,
        roc_auc=optional_score(block, "roc_auc"),
        not_comparable=not_comparable,
    )


def decide(
    evaluation: dict[str, Any], threshold: float, max_regression: float = 0.0
) -> GateDecision:
    """Pass when the test set has both classes, accuracy >= threshold, and accuracy >= the
    champion's accuracy on the same test set minus ``max_regression``."""
    if not math.isfinite(max_regression) or not 0 <= max_regression <= 1:
        raise GateError(f"max_regression must be in [0, 1]: {max_regression!r}")
    accuracy = accuracy_of(evaluation)
    champion = champion_of(evaluation)
    refusal = one_class_refusal(evaluation)
    # Not passed until judged: a refused evaluation stays so, whatever its accuracy.
    decision = GateDecision(False, accuracy, threshold, refusal, champion, max_regression)
    if refusal is not None:
        return decision
    floor = decision.champion_floor
    return replace(
        decision, passed=decision.clears_threshold and (floor is None or accuracy >= floor)
    )
