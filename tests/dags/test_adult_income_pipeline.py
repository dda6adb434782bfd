"""DAG integrity: every DAG file imports offline, with the intended shape, docs and params."""

from __future__ import annotations

import copy
import json
import os
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
        ("check_conf", "prepare_run"),
        ("prepare_run", "wait_for_input"),
        ("wait_for_input", "preprocess"),
        ("preprocess", "train_or_tune"),
        ("train_or_tune", "train"),
        ("train_or_tune", "tune"),
        ("train", "evaluate"),
        ("tune", "evaluate"),
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
    # train or tune runs, the other is skipped: evaluate follows the one that ran.
    assert dag.task_dict["evaluate"].trigger_rule == "none_failed_min_one_success"
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
    assert isinstance(tasks["tune"], sagemaker.SageMakerTuningOperator)
    assert isinstance(tasks["train_or_tune"], BranchPythonOperator)
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
    assert params["training_mode"] == "builtin" and params["tuning_max_jobs"] == 0
    for field, value in [
        ("accuracy_threshold", 2),
        ("model_approval_status", "Yes"),
        ("eta", 0),
        ("training_mode", "framework"),
        ("tuning_strategy", "Exhaustive"),
        ("tuning_objective", "train:auc"),
        ("tuning_max_jobs", -1),
    ]:
        conf = copy.deepcopy(params)
        with pytest.raises(ParamValidationError, match=field):
            conf.update({field: value})  # what a trigger's conf does before the run exists
            conf.validate()


def test_airflows_default_deferrable_reaches_the_long_running_operators() -> None:
    # [operators] default_deferrable is read when the provider is imported: a fresh process.
    probe = (
        "import json; from airflow.dag_processing.dagbag import DagBag;"
        f"tasks = DagBag(dag_folder={str(ROOT / 'dags')!r}).dags[{DAG_ID!r}].task_dict;"
        "print(json.dumps({t: tasks[t].deferrable for t in "
        "('preprocess', 'train', 'tune', 'evaluate', 'deploy')}))"
    )
    flags = {}
    for value in ("true", "false"):
        env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": value}
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        flags[value] = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(flags["true"].values()) == {True}
    assert set(flags["false"].values()) == {False}


HEAVY_MODULES = ("pandas", "xgboost", "sklearn", "sagemaker")


def heavy_modules_imported_by(dag_file: Path) -> list[str]:
    """Which of HEAVY_MODULES parsing ``dag_file`` imports, in a fresh interpreter with only
    the project on its path (the scheduler parses DAG files often)."""
    probe = (
        "import sys, json, runpy; runpy.run_path(sys.argv[1]);"
        f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))"
    )
    environment = {
        "PYTHONPATH": str(ROOT),
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": "/tmp/af-probe",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_parse_imports_nothing_heavy() -> None:
    assert heavy_modules_imported_by(ROOT / "dags" / "adult_income_pipeline.py") == []


# --- settings from Airflow Variables, a plan per run, requests from the plan -----------------

SAGEMAKER_TASKS = ("preprocess", "train", "evaluate", "create_model", "register_model_version")


class PlanTaskInstance:
    """A task instance whose XComs are those of a run that planned ``plan`` and trained
    ``training``: what the templates of the run's later tasks read."""

    dag_id = DAG_ID

    def __init__(self, plan: dict, training: dict) -> None:
        self.xcoms = {("prepare_run", "return_value"): plan, ("train", "return_value"): training}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> object:
        return copy.deepcopy(self.xcoms.get((task_ids, key)))


def run_context(dag, ti=None) -> dict:
    from airflow.sdk.execution_time.context import VariableAccessor

    return {
        "var": {"value": VariableAccessor(deserialize_json=False)},
        "params": {key: dag.params[key] for key in dag.params},
        "dag": dag,
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "ds": "2026-11-20",
        "ti": ti,
    }


def rendered(task, context: dict):
    """A copy of ``task`` with its templated fields rendered as the worker renders them."""
    task = copy.deepcopy(task)
    task.render_template_fields(context)
    return task


def plan_with(dag, monkeypatch, **variables: str) -> dict:
    """prepare_run as a worker runs it, with these Variables set as Airflow reads them from the
    environment (AIRFLOW_VAR_*)."""
    from include.adult_income import tasks

    for name, value in variables.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_ADULT_PIPELINE_{name.upper()}", value)
    context = run_context(dag)
    prepare = rendered(dag.task_dict["prepare_run"], context)
    # No registry here: the champion look-up is tested against the emulator (test_champion.py).
    monkeypatch.setattr(tasks, "current_champion", lambda context, config: None)
    return tasks.prepare_run(**prepare.op_kwargs, **context)


@pytest.fixture()
def planned_run(dagbag: DagBag, monkeypatch: pytest.MonkeyPatch) -> tuple:
    dag = dagbag.dags[DAG_ID]
    plan = plan_with(
        dag,
        monkeypatch,
        bucket="bucket-from-a-variable",
        role_arn="arn:aws:iam::111122223333:role/FromVariable",
        prefix="team-a",
        aws_conn_id="aws_team_a",
        poll_seconds="7",
    )
    training = {"Training": {"TrainingJobName": "t", "ModelArtifacts": {"S3ModelArtifacts": "x"}}}
    return dag, plan, run_context(dag, PlanTaskInstance(plan, training))


def test_airflow_var_settings_reach_every_request(planned_run) -> None:
    dag, plan, context = planned_run
    assert plan["settings"]["bucket"] == "bucket-from-a-variable"
    for task_id in SAGEMAKER_TASKS:
        task = rendered(dag.task_dict[task_id], context)
        config = task.config
        text = json.dumps(config)
        assert "s3://bucket-from-a-variable/team-a/runs/" in text, task_id
        if task_id != "register_model_version":  # a model package names no role
            assert "arn:aws:iam::111122223333:role/FromVariable" in text, task_id
        assert task.aws_conn_id == "aws_team_a", task_id
        assert "{{" not in text, task_id  # rendered as the dict itself, not as its text
    train = rendered(dag.task_dict["train"], context)
    assert train.check_interval == 7 and train.print_log is True
    assert train.config["HyperParameters"]["num_round"] == "50"  # strings, as SageMaker wants
    sensor = rendered(dag.task_dict["wait_for_input"], context)
    assert sensor.op_kwargs["input_uri"] == "s3://bucket-from-a-variable/team-a/raw/ds=2026-11-20/"


def test_a_variable_changed_mid_run_does_not_move_the_run(planned_run, monkeypatch) -> None:
    dag, _, context = planned_run
    before = {t: rendered(dag.task_dict[t], context).config for t in SAGEMAKER_TASKS}
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_BUCKET", "another-bucket")
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_PREFIX", "team-b")
    after = {t: rendered(dag.task_dict[t], context).config for t in SAGEMAKER_TASKS}
    assert after == before
    # A new run (or prepare_run cleared) plans with the new values.
    replanned = plan_with(dag, monkeypatch)
    assert replanned["layout"]["run_uri"].startswith("s3://another-bucket/team-b/runs/")


def test_only_prepare_run_reads_variables(dagbag: DagBag) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            fields = json.dumps({f: str(getattr(task, f)) for f in task.template_fields})
            reads = "var.value" in fields
            assert reads == (task.task_id == "prepare_run"), task.task_id


def test_missing_settings_name_the_variable_and_its_environment_name(
    dagbag: DagBag, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.adult_income.settings import SettingsError

    for name in ("BUCKET", "ROLE_ARN"):
        monkeypatch.delenv(f"AIRFLOW_VAR_ADULT_PIPELINE_{name}", raising=False)
    with pytest.raises(SettingsError) as raised:
        plan_with(dagbag.dags[DAG_ID], monkeypatch)
    assert "Variable adult_pipeline_bucket (or AIRFLOW_VAR_ADULT_PIPELINE_BUCKET)" in str(
        raised.value
    )
    assert "AIRFLOW_VAR_ADULT_PIPELINE_ROLE_ARN" in str(raised.value)
