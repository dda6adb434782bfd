"""DAG integrity: every DAG file imports offline, with the intended shape, docs and params."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.models.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "adult_income_pipeline"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dags


def test_shape_follows_the_pipeline_diagram(dagbag: DagBag) -> None:
    dag = dagbag.dags[DAG_ID]
    edges = {(up, down) for down, task in dag.task_dict.items() for up in task.upstream_task_ids}
    assert edges == {
        ("check_conf", "wait_for_input"),
        ("wait_for_input", "prepare_run"),
        ("prepare_run", "preprocess"),
        ("preprocess", "train"),
        ("train", "evaluate"),
        ("evaluate", "accuracy_gate"),
        ("accuracy_gate", "create_model"),
        ("accuracy_gate", "register_model_version"),
        ("accuracy_gate", "model_rejected"),
        ("create_model", "should_deploy"),
        ("register_model_version", "approve_model_version"),
        ("approve_model_version", "should_deploy"),
        ("should_deploy", "deploy"),
        ("deploy", "smoke_check"),
        ("create_model", "summary"),
        ("register_model_version", "summary"),
        ("model_rejected", "summary"),
        ("smoke_check", "summary"),
    }
    assert dag.task_dict["summary"].trigger_rule == "all_done"
    # A skipped deploy skips only the deploy path; the summary still runs.
    assert dag.task_dict["should_deploy"].ignore_downstream_trigger_rules is False


def test_schedule_docs_tags_and_retries(dagbag: DagBag) -> None:
    dag = dagbag.dags[DAG_ID]
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.doc_md and "accuracy gate" in dag.doc_md
    assert {"sagemaker", "xgboost"} <= set(dag.tags)
    for task in dag.tasks:
        # The summary reports the run once; a person's answer is asked once (a retry would ask
        # again).
        if task.task_id not in {"summary", "approve_model_version"}:
            assert task.retries >= 1, task.task_id
    assert dag.task_dict["approve_model_version"].retries == 0


def test_operators_are_the_providers_sagemaker_operators(dagbag: DagBag) -> None:
    from airflow.providers.amazon.aws.operators import sagemaker
    from airflow.providers.standard.operators.python import BranchPythonOperator

    tasks = dagbag.dags[DAG_ID].task_dict
    assert isinstance(tasks["preprocess"], sagemaker.SageMakerProcessingOperator)
    assert isinstance(tasks["train"], sagemaker.SageMakerTrainingOperator)
    assert isinstance(tasks["evaluate"], sagemaker.SageMakerProcessingOperator)
    assert isinstance(tasks["accuracy_gate"], BranchPythonOperator)
    assert isinstance(tasks["create_model"], sagemaker.SageMakerModelOperator)
    assert isinstance(
        tasks["register_model_version"], sagemaker.SageMakerRegisterModelVersionOperator
    )
    # A name decided by attach-or-create is the name used: no timestamp renaming.
    assert tasks["preprocess"].action_if_job_exists == "fail"
    assert tasks["train"].action_if_job_exists == "fail"
    assert isinstance(tasks["deploy"], sagemaker.SageMakerEndpointOperator)


def test_params_schema_defaults_and_bad_conf_refused(dagbag: DagBag) -> None:
    params = dagbag.dags[DAG_ID].params
    assert params["accuracy_threshold"] == 0.8
    assert params["num_round"] == 50 and params["max_depth"] == 5 and params["eta"] == 0.3
    assert params["model_approval_status"] == "PendingManualApproval"
    assert params["deploy"] is False
    for field, value in [("accuracy_threshold", 2), ("model_approval_status", "Yes"), ("eta", 0)]:
        conf = copy.deepcopy(params)
        with pytest.raises(ParamValidationError, match=field):
            conf.update({field: value})  # what a trigger's conf does before the run exists
            conf.validate()


def test_deferrable_setting_reaches_the_long_running_operators(monkeypatch) -> None:
    monkeypatch.setenv("ADULT_PIPELINE_DEFERRABLE", "true")
    bag = DagBag(dag_folder=str(ROOT / "dags" / "adult_income_pipeline.py"))
    tasks = bag.dags[DAG_ID].task_dict
    assert all(tasks[t].deferrable for t in ("preprocess", "train", "evaluate", "deploy"))


def test_parse_imports_nothing_heavy() -> None:
    probe = (
        "import sys, json, runpy; runpy.run_path(sys.argv[1]);"
        "print(json.dumps(sorted(m for m in ('pandas','xgboost','sklearn','sagemaker') "
        "if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "dags" / "adult_income_pipeline.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": "/tmp/af-probe"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
