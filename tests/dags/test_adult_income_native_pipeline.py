"""The native-pipeline DAG: imports offline, its shape, its operator and params."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.models.dagbag import DagBag

from tests.support.dag_parsing import heavy_imports_of

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "adult_income_native_pipeline"
DAG_FILE = ROOT / "dags" / "adult_income_native_pipeline.py"


@pytest.fixture(scope="module")
def dag():
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_shape_schedule_and_retries(dag) -> None:
    edges = {(up, down) for down, task in dag.task_dict.items() for up in task.upstream_task_ids}
    assert edges == {
        ("check_conf", "prepare_run"),
        ("prepare_run", "wait_for_input"),
        ("wait_for_input", "upsert_pipeline"),
        ("upsert_pipeline", "start_pipeline"),
        ("start_pipeline", "summary"),
    }
    assert dag.schedule == "@daily" and dag.catchup is False
    assert dag.task_dict["summary"].trigger_rule == "all_done"
    assert all(t.retries >= 1 for t in dag.tasks if t.task_id != "summary")
    assert "SageMakerStartPipelineOperator" in dag.doc_md


def test_start_is_the_providers_operator_and_waits(dag) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerStartPipelineOperator

    start = dag.task_dict["start_pipeline"]
    assert isinstance(start, SageMakerStartPipelineOperator)
    assert start.wait_for_completion is True
    # the run's pipeline: one per training_mode (native_tasks.pipeline_name_for)
    assert start.pipeline_name == "{{ ti.xcom_pull(task_ids='prepare_run')['pipeline']['name'] }}"
    # the execution's parameters are the run's plan, rendered as the dict itself
    assert start.pipeline_params == "{{ ti.xcom_pull(task_ids='prepare_run')['parameters'] }}"
    assert start.render_template_as_native_obj is True


def test_params_are_the_main_dags_without_deploy(dag) -> None:
    assert dag.params["accuracy_threshold"] == 0.8
    assert "num_round" in dag.params and "model_approval_status" in dag.params
    assert not any(key.startswith(("deploy", "endpoint")) for key in dag.params)
    # script mode and tuning strategy are build options of the pipeline (one pipeline each)
    assert dag.params["training_mode"] == "builtin"
    assert dag.params["tuning_max_jobs"] == 0
    assert "tuning_strategy" in dag.params and "tuning_objective" in dag.params


def test_parse_imports_no_sagemaker_sdk() -> None:
    assert heavy_imports_of(DAG_FILE) == []
