"""The DAG's Python callables that decide a run's truth: the conf check and failed tasks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.adult_income import tasks
from include.adult_income.params import pipeline_params


class FakeTaskInstance:
    dag_id = "adult_income_pipeline"

    def __init__(self, states: dict[str, dict[str, str | None]]) -> None:
        self.states = states
        self.asked: list[dict[str, Any]] = []

    def get_task_states(self, **query: Any) -> dict[str, dict[str, str | None]]:
        self.asked.append(query)
        return self.states


def context_with(conf: dict[str, Any]) -> dict[str, Any]:
    return {
        "dag_run": SimpleNamespace(conf=conf),
        "dag": SimpleNamespace(params=pipeline_params()),
    }


def test_check_conf_refuses_a_typo_without_retries() -> None:
    with pytest.raises(AirflowFailException, match="did you mean num_round"):
        tasks.check_conf(**context_with({"num_rounds": 500}))


def test_check_conf_passes_a_valid_conf() -> None:
    assert tasks.check_conf(**context_with({"num_round": 80})) is None


def test_failed_tasks_names_failed_and_upstream_failed_of_this_run_only() -> None:
    ti = FakeTaskInstance(
        {
            "run-1": {
                "create_model": "failed",
                "register_model_version": "success",
                "should_deploy": "upstream_failed",
                "model_rejected": "skipped",
                "summary": "running",
            },
            "run-2": {"train": "failed"},
        }
    )
    assert tasks.failed_tasks({"ti": ti, "run_id": "run-1"}) == ["create_model", "should_deploy"]
    assert ti.asked == [{"dag_id": "adult_income_pipeline", "run_ids": ["run-1"]}]


def test_failed_tasks_is_empty_for_a_clean_run() -> None:
    ti = FakeTaskInstance({"run-1": {"train": "success", "model_rejected": "skipped"}})
    assert tasks.failed_tasks({"ti": ti, "run_id": "run-1"}) == []
