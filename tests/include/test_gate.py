"""The accuracy gate: above, equal, below, a missing or malformed metric, a one-class test set."""

from __future__ import annotations

import re

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


def with_champion(accuracy: float, champion: dict | None) -> dict:
    report = with_rows(accuracy, 30, 70)
    report["champion"] = champion
    return report


CHAMPION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/adult-income-xgboost/1"


@pytest.mark.parametrize(
    ("accuracy", "champion_accuracy", "max_regression", "passed"),
    [
        (0.87, 0.86, 0.0, True),  # better than the champion
        (0.86, 0.86, 0.0, True),  # as good: the floor is inclusive
        (0.85, 0.86, 0.0, False),  # worse, no slack
        (0.85, 0.86, 0.02, True),  # worse, but within max_regression
        (0.83, 0.86, 0.02, False),  # worse beyond max_regression
    ],
)
def test_the_challenger_must_hold_its_own_against_the_champion(
    accuracy: float, champion_accuracy: float, max_regression: float, passed: bool
) -> None:
    report = with_champion(
        accuracy, {"model_package_arn": CHAMPION_ARN, "accuracy": champion_accuracy}
    )
    decision = decide(report, 0.8, max_regression)
    assert decision.passed is passed
    assert "adult-income-xgboost/1" in decision.reason
    assert f"{champion_accuracy:.4f}" in decision.reason
    assert ("accuracy >= champion" if passed else "accuracy < champion") in decision.reason


def test_the_threshold_still_decides_before_the_champion() -> None:
    report = with_champion(0.75, {"model_package_arn": CHAMPION_ARN, "accuracy": 0.70})
    decision = decide(report, 0.8)
    assert not decision.passed
    assert decision.reason == "accuracy 0.7500 < threshold 0.8000"


def test_no_champion_passes_on_the_threshold_and_says_so() -> None:
    decision = decide(with_champion(0.87, None), 0.8)
    assert decision.passed
    assert decision.champion is None
    assert "no approved champion" in decision.reason


def test_a_champion_that_could_not_be_scored_is_named_and_the_threshold_decides() -> None:
    champion = {
        "model_package_arn": CHAMPION_ARN,
        "accuracy": None,
        "roc_auc": None,
        "comparable": False,
        "reason": "the champion was trained on another feature schema (104 features, ...)",
    }
    decision = decide(with_champion(0.87, champion), 0.8)
    assert decision.passed
    assert "not compared" in decision.reason
    assert "another feature schema" in decision.reason


@pytest.mark.parametrize(
    ("champion", "message"),
    [
        ("v1", "not an object"),
        ({"accuracy": "0.9"}, "champion.accuracy is not a finite number"),
        ({"accuracy": float("nan")}, "champion.accuracy is not a finite number"),
        ({"accuracy": 1.2}, "champion.accuracy is out of [0, 1]"),
        ({"accuracy": 0.8, "roc_auc": True}, "champion.roc_auc is not a finite number"),
    ],
)
def test_a_malformed_champion_block_is_refused(champion: object, message: str) -> None:
    with pytest.raises(GateError, match=re.escape(message)):
        decide(with_champion(0.87, champion), 0.8)


@pytest.mark.parametrize("max_regression", [-0.1, 1.5, float("nan")])
def test_max_regression_outside_0_1_is_refused(max_regression: float) -> None:
    with pytest.raises(GateError, match="max_regression"):
        decide(with_champion(0.87, None), 0.8, max_regression)
