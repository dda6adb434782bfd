"""Conf checks beyond Airflow's param validation: unknown keys and non-finite numbers."""

from __future__ import annotations

import json

from include.adult_income.params import conf_problems, native_pipeline_params, pipeline_params


def test_a_typo_is_refused_naming_the_nearest_param() -> None:
    assert conf_problems({"num_rounds": 500}) == [
        "unknown param 'num_rounds'; did you mean num_round?"
    ]


def test_a_key_like_nothing_known_gets_no_suggestion() -> None:
    assert conf_problems({"colour": "blue"}) == ["unknown param 'colour'"]


def test_nan_and_infinity_are_refused_for_every_number() -> None:
    conf = json.loads('{"eta": NaN, "accuracy_threshold": Infinity, "gamma": -Infinity}')
    assert conf_problems(conf) == [
        "accuracy_threshold is inf: numbers must be finite",
        "eta is nan: numbers must be finite",
        "gamma is -inf: numbers must be finite",
    ]


def test_nested_non_finite_values_are_found_with_their_path() -> None:
    known = {"ranges"}
    conf = {"ranges": {"eta": [0.1, float("nan")]}}
    assert conf_problems(conf, known) == ["ranges.eta[1] is nan: numbers must be finite"]


def test_a_valid_conf_has_no_problems() -> None:
    conf = {"num_round": 80, "eta": 0.2, "deploy": True, "input_data_uri": None}
    assert conf_problems(conf) == []


def test_native_dag_does_not_know_the_deploy_params() -> None:
    native = set(native_pipeline_params())
    assert "deploy" not in native and "early_stopping_rounds" not in native
    assert native < set(pipeline_params())
    assert conf_problems({"deploy": True}, native) == ["unknown param 'deploy'"]


def test_human_approval_with_an_approved_status_is_refused_as_contradictory() -> None:
    from include.adult_income.params import conf_problems

    problems = conf_problems({"human_approval": True, "model_approval_status": "Approved"})
    assert problems == [
        "human_approval asks a person to approve the version: leave model_approval_status "
        "PendingManualApproval"
    ]
    assert conf_problems({"human_approval": True}) == []
