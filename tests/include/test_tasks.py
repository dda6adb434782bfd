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


class RecordingS3:
    def __init__(self) -> None:
        self.uploaded: dict[tuple[str, str], bytes] = {}

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        with open(path, "rb") as handle:
            self.uploaded[(bucket, key)] = handle.read()


def test_each_job_publishes_its_script_as_it_is_now(tmp_path, monkeypatch) -> None:
    # Clearing evaluate after editing evaluate.py must run the edited script: the task
    # uploads the file's current bytes, whose ETag the request fingerprint then sees.
    from include.adult_income import requests

    s3 = RecordingS3()
    monkeypatch.setattr(tasks, "s3_client", lambda config: s3)
    monkeypatch.setattr(tasks, "SCRIPTS_DIR", tmp_path)
    layout = requests.RunLayout(input_uri="s3://b/raw/", run_uri="s3://b/runs/r1")
    script = tmp_path / "evaluate.py"
    script.write_text("print('v1')\n")
    tasks.publish_scripts(None, layout, "evaluate.py")
    script.write_text("print('v2')\n")
    tasks.publish_scripts(None, layout, "evaluate.py")
    bucket, key = tasks.split_uri(f"{layout.code_uri}/evaluate.py")
    assert s3.uploaded == {(bucket, key): b"print('v2')\n"}
