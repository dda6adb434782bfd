"""The accuracy gate: above, equal, below, a missing or malformed metric, a one-class test set."""

from __future__ import annotations

import pytest

from include.adult_income.gate import GateError, decide


def evaluation(value: object) -> dict:
    return {"metrics": {"accuracy": {"value": value}}}


def with_rows(accuracy: float, positive: int, negative: int) -> dict:
    report = evaluation(accuracy)
    report["test_rows"] = {"total": positive + negative, "positive": positive, "negative": negative}
    return report


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


@pytest.mark.parametrize(
    ("positive", "negative", "reason"),
    [
        (0, 9049, "test set holds one class (9049 rows, all '<=50K'): accuracy says nothing"),
        (12, 0, "test set holds one class (12 rows, all '>50K'): accuracy says nothing"),
        (0, 0, "test set holds no rows: accuracy says nothing"),
    ],
)
def test_a_one_class_test_set_does_not_pass_whatever_its_accuracy(
    positive: int, negative: int, reason: str
) -> None:
    decision = decide(with_rows(1.0, positive, negative), 0.8)
    assert decision.passed is False
    assert decision.accuracy == 1.0
    assert decision.reason == reason


def test_both_classes_are_judged_on_accuracy() -> None:
    assert decide(with_rows(0.9, 1, 99), 0.8).passed is True
    decision = decide(with_rows(0.7, 30, 70), 0.8)
    assert decision.passed is False
    assert decision.refusal is None
    assert decision.reason == "accuracy 0.7000 < threshold 0.8000"


def test_an_older_evaluation_counts_classes_from_its_confusion_matrix() -> None:
    report = evaluation(1.0)
    report["metrics"]["confusion_matrix"] = {"tn": 50, "fp": 0, "fn": 0, "tp": 0}
    decision = decide(report, 0.8)
    assert decision.passed is False
    assert (
        decision.reason == "test set holds one class (50 rows, all '<=50K'): accuracy says nothing"
    )
    report["metrics"]["confusion_matrix"] = {"tn": 40, "fp": 0, "fn": 3, "tp": 7}
    assert decide(report, 0.8).passed is True


@pytest.mark.parametrize(
    "rows",
    [
        [1, 2],
        {"positive": 3},
        {"positive": -1, "negative": 5},
        {"positive": True, "negative": 5},
        {"positive": 1.0, "negative": 5},
        {"total": 7, "positive": 1, "negative": 5},
    ],
)
def test_malformed_class_counts_fail_clearly(rows: object) -> None:
    report = evaluation(0.9)
    report["test_rows"] = rows
    with pytest.raises(GateError, match="test_rows"):
        decide(report, 0.8)
