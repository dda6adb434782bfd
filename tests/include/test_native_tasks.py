"""The native DAG's tasks against the emulator: the upsert creates once and then leaves an
unchanged definition alone; a retried start re-attaches to its run's execution."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from include.adult_income import native_tasks
from include.adult_income.operators import AttachOrStartPipelineOperator
from include.adult_income.params import native_pipeline_params
from tests.conftest import ROLE

DAG_ID = "adult_income_native_pipeline"


@pytest.fixture()
def offline_settings(monkeypatch: pytest.MonkeyPatch, connection: str, bucket: str) -> dict:
    """The variables prepare_run renders, pointing at the test's emulator."""
    prefix = f"native-{uuid.uuid4().hex[:6]}"
    # one pipeline name per test: the session's emulator is shared
    monkeypatch.setattr(native_tasks, "PIPELINE_NAME", f"{prefix}-pipeline")
    return {
        "bucket": bucket,
        "prefix": prefix,
        "role_arn": ROLE,
        "aws_conn_id": connection,
        "region": "us-east-1",
    }


class PlannedTaskInstance(SimpleNamespace):
    def xcom_pull(self, task_ids: str) -> dict | None:
        return self.plan if task_ids == "prepare_run" else None


def context(run_id: str, task_id: str, plan: dict | None = None) -> dict:
    return {
        "dag": SimpleNamespace(dag_id=DAG_ID),
        "run_id": run_id,
        "ds": "2026-11-20",
        "ti": PlannedTaskInstance(dag_id=DAG_ID, task_id=task_id, plan=plan),
        "params": {key: param.value for key, param in native_pipeline_params().items()},
    }


def planned_context(variables: dict, run_id: str, task_id: str) -> dict:
    plan = native_tasks.prepare_run(variables, **context(run_id, "prepare_run"))
    return context(run_id, task_id, plan)


def test_upsert_creates_then_leaves_the_same_definition_alone(aws, offline_settings) -> None:
    first = native_tasks.upsert_pipeline(
        **planned_context(offline_settings, "manual__1", "upsert_pipeline")
    )
    again = native_tasks.upsert_pipeline(
        **planned_context(offline_settings, "manual__2", "upsert_pipeline")
    )
    assert (first["change"], again["change"]) == ("created", "unchanged")
    assert first["pipeline_arn"] == again["pipeline_arn"]
    described = aws("sagemaker").describe_pipeline(PipelineName=native_tasks.PIPELINE_NAME)
    assert '"Name": "AccuracyGate"' in described["PipelineDefinition"]


def test_a_retried_start_reattaches_instead_of_starting_again(
    aws, bucket, offline_settings, connection
) -> None:
    sagemaker = aws("sagemaker")
    name = native_tasks.PIPELINE_NAME
    # a quick pipeline: one condition step with nothing behind it, done in a moment
    sagemaker.create_pipeline(
        PipelineName=name,
        PipelineDefinition='{"Version": "2020-12-01", "Steps": [{"Name": "Stop", "Type": '
        '"Condition", "Arguments": {"Conditions": [], "IfSteps": [], "ElseSteps": []}}]}',
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    run_id = f"manual__{uuid.uuid4().hex}"

    def start() -> str:
        operator = AttachOrStartPipelineOperator(
            task_id="start_pipeline",
            pipeline_name=name,
            pipeline_params={},
            aws_conn_id=connection,
            check_interval=1,
        )
        return operator.execute(context(run_id, "start_pipeline"))

    first, retried = start(), start()
    assert first == retried
    executions = sagemaker.list_pipeline_executions(PipelineName=name)
    assert len(executions["PipelineExecutionSummaries"]) == 1


def test_each_training_mode_and_tuning_strategy_has_its_own_pipeline() -> None:
    names = {
        native_tasks.pipeline_name_for(mode, strategy)
        for mode in ("builtin", "script")
        for strategy in (None, "Bayesian", "Random", "Hyperband", "Grid")
    }
    assert len(names) == 10
    assert native_tasks.pipeline_name_for("builtin") == native_tasks.PIPELINE_NAME
    assert native_tasks.pipeline_name_for("script", "Random") == (
        "adult-income-xgboost-pipeline-script-tuning-random"
    )
