"""The accuracy gate: above, equal, below, and a missing or malformed metric."""

from __future__ import annotations

import pytest

from include.adult_income.gate import GateError, decide


def evaluation(value: object) -> dict:
    return {"metrics": {"accuracy": {"value": value}}}


@pytest.mark.parametrize(
    ("accuracy", "threshold", "passed"),
    [(0.87, 0.8, True), (0.8, 0.8, True), (0.79999, 0.8, False), (0.5, 0.99, False)],
)
def test_threshold_is_inclusive(accuracy: float, threshold: float, passed: bool) -> None:
    decision = decide(evaluation(accuracy), threshold)
    assert decision.passed is passed
    assert decision.accuracy == accuracy
    assert (">=" if passed else "<") in decision.reason


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({}, "no metrics.accuracy.value"),
        ({"metrics": {"auc": {"value": 0.9}}}, "no metrics.accuracy.value"),
        (evaluation(None), "not a number"),
        (evaluation("0.9"), "not a number"),
        (evaluation(True), "not a number"),
        (evaluation(float("nan")), "out of [0, 1]"),
        (evaluation(1.5), "out of [0, 1]"),
    ],
)
def test_missing_or_malformed_metric_fails_clearly(report: dict, message: str) -> None:
    with pytest.raises(GateError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decide(report, 0.8)
