"""Human approval: the prompt a person sees, and what each answer does to the registered version
(through boto3 against the emulator's model registry)."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from include.adult_income import approval

GATE = {
    "passed": True,
    "accuracy": 0.8712,
    "roc_auc": 0.9254,
    "reason": "accuracy 0.8712 >= threshold 0.8000; accuracy >= champion g/1's 0.8690 ...",
    "champion": {
        "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
        "accuracy": 0.869,
        "roc_auc": 0.9231,
    },
}
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/adult-income-xgboost/4"


def test_the_prompt_names_the_version_and_sets_it_beside_the_champion() -> None:
    subject, body = approval.approval_prompt(ARN, GATE)
    assert subject == "Approve version 4 of model package group adult-income-xgboost?"
    assert "| accuracy | 0.8712 | 0.8690 |" in body
    assert "| ROC AUC | 0.9254 | 0.9231 |" in body
    assert "model-package/g/1" in body and GATE["reason"] in body


def test_without_a_champion_the_prompt_says_this_would_be_the_first() -> None:
    _, body = approval.approval_prompt(ARN, dict(GATE, champion=None))
    assert "| accuracy | 0.8712 | n/a |" in body
    assert "no approved version yet" in body


def test_the_description_names_who_and_why() -> None:
    user = {"id": "7", "name": "ada"}
    assert approval.decision_description("Approve", user, " looks good ") == (
        "approved by ada in Airflow: looks good"
    )
    assert approval.decision_description("Reject", None, "") == (
        "rejected by unknown user in Airflow"
    )
    assert len(approval.decision_description("Approve", user, "x" * 2000)) == 1000


class FakeTI:
    def __init__(self, package_arn: str) -> None:
        self.package_arn = package_arn
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return {"register_model_version": self.package_arn, "accuracy_gate": GATE}[task_ids]


def context_for(package_arn: str, conf: dict, task: Any = None) -> dict:
    from include.adult_income.params import pipeline_params

    return {
        "ti": FakeTI(package_arn),
        "task": task,
        "dag_run": SimpleNamespace(conf=conf),
        "dag": SimpleNamespace(params={k: p.value for k, p in pipeline_params().items()}),
    }


@pytest.fixture()
def pending(aws) -> str:
    sm = aws("sagemaker")
    group = f"approval-{uuid.uuid4().hex[:8]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


@pytest.fixture()
def operator(aws, monkeypatch: pytest.MonkeyPatch) -> approval.ModelVersionApprovalOperator:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG("approval", schedule=None):
        task = approval.ModelVersionApprovalOperator(
            task_id="approve_model_version",
            register_task_id="register_model_version",
            gate_task_id="accuracy_gate",
            aws_conn_id=None,
        )
        task >> EmptyOperator(task_id="should_deploy")
    monkeypatch.setattr(task, "sagemaker", lambda: aws("sagemaker"))
    task.skipped = []

    def skip(ti: FakeTI, tasks: list) -> None:
        # as Airflow 3's SkipMixin does: the task ends here, returning nothing
        task.skipped.extend(t.task_id for t in tasks)
        raise DownstreamSkipped

    monkeypatch.setattr(task, "skip", skip)
    return task


class DownstreamSkipped(Exception):
    """What Airflow 3's SkipMixin.skip raises (DownstreamTasksSkipped) to end the task."""


def complete(operator: Any, package_arn: str, event: dict) -> dict | None:
    """execute_complete as the task runner runs it: the result the task leaves in XCom (the
    returned value, or when skipping ended the task, only what it pushed itself)."""
    context = context_for(package_arn, {"human_approval": True}, task=operator)
    try:
        return operator.execute_complete(context, event)
    except DownstreamSkipped:
        return context["ti"].pushed.get("return_value")


def answer(chosen: str, note: str = "", timedout: bool = False) -> dict:
    return {
        "chosen_options": [chosen],
        "params_input": {"note": note},
        "responded_at": dt.datetime(2026, 12, 4, tzinfo=dt.UTC),
        "responded_by_user": None if timedout else {"id": "1", "name": "ada"},
        "timedout": timedout,
    }


@pytest.mark.parametrize(
    ("chosen", "note", "status", "decision", "skipped"),
    [
        ("Approve", "ship it", "Approved", "approved", []),
        # the summary still learns who decided, though skipping ended the task
        ("Reject", "worse on women", "Rejected", "rejected", ["should_deploy"]),
    ],
    ids=["approve-keeps-the-deploy-path", "reject-skips-the-deploy-path"],
)
def test_the_answer_becomes_the_versions_status_and_the_runs_decision(
    aws, pending: str, operator, chosen: str, note: str, status: str, decision: str, skipped: list
) -> None:
    result = complete(operator, pending, answer(chosen, note))
    package = aws("sagemaker").describe_model_package(ModelPackageName=pending)
    assert package["ModelApprovalStatus"] == status
    assert package["ApprovalDescription"] == f"{decision} by ada in Airflow: {note}"
    assert result == {"decision": decision, "model_package_arn": pending, "by": "ada", "note": note}
    assert operator.skipped == skipped


# What Airflow 3.3's scheduler sweep (check_awaiting_input_timeouts) resumes a question without
# defaults with once its deadline has passed; the triggerer sent the same before 3.3.
TIMEOUT_EVENT = {
    "error": "The Human-in-the-loop response timeout has passed without a response.",
    "error_type": "timeout",
}


@pytest.mark.parametrize(
    "event",
    [TIMEOUT_EVENT, answer("Reject", timedout=True)],
    ids=["timeout-event", "defaults-taken-at-the-timeout"],
)
def test_no_answer_in_time_leaves_the_version_pending_and_skips_the_deploy_path(
    aws, pending: str, operator, event: dict
) -> None:
    result = complete(operator, pending, event)
    package = aws("sagemaker").describe_model_package(ModelPackageName=pending)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in package
    assert result == {"decision": "timed_out", "model_package_arn": pending}
    assert operator.skipped == ["should_deploy"]


def test_the_question_has_no_default_answer(operator) -> None:
    # At the deadline nobody answered: a default would be recorded (and shown in the UI) as the
    # response, as if someone had rejected the version.
    assert operator.defaults is None


def test_an_error_other_than_the_timeout_fails_the_task(aws, pending: str, operator) -> None:
    from airflow.providers.standard.exceptions import HITLTriggerEventError

    with pytest.raises(HITLTriggerEventError):
        complete(operator, pending, {"error": "lost", "error_type": "unknown"})
    package = aws("sagemaker").describe_model_package(ModelPackageName=pending)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"


def test_an_answer_outside_the_options_is_refused(pending: str, operator) -> None:
    with pytest.raises(ValueError, match="not in"):
        operator.execute_complete(context_for(pending, {}), answer("Maybe"))


def test_without_human_approval_nobody_is_asked(pending: str, operator, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(
        approval.ApprovalOperator, "execute", lambda self, context: asked.append(True)
    )
    assert operator.execute(context_for(pending, {})) is None
    assert asked == []


def test_with_human_approval_the_question_and_timeout_come_from_the_run(
    pending: str, operator, monkeypatch
) -> None:
    asked = []
    monkeypatch.setattr(
        approval.ApprovalOperator, "execute", lambda self, context: asked.append(self.subject)
    )
    conf = {"human_approval": True, "approval_timeout_minutes": 30}
    operator.execute(context_for(pending, conf))
    assert asked == [f"Approve version 1 of model package group {pending.split('/')[-2]}?"]
    assert operator.response_timeout == dt.timedelta(minutes=30)
    assert "| accuracy | 0.8712 | 0.8690 |" in operator.body


def test_the_form_is_the_note_alone_even_inside_a_dag_with_params() -> None:
    # A DAG merges its params into each task's: they must not become fields of the question
    # (the UI would ask for every one of them, and refuse to send an answer without the
    # required ones).
    from airflow.sdk import DAG

    from include.adult_income.params import pipeline_params

    with DAG("approval_form", schedule=None, params=pipeline_params()):
        task = approval.ModelVersionApprovalOperator(
            task_id="approve_model_version",
            register_task_id="register_model_version",
            gate_task_id="accuracy_gate",
            aws_conn_id=None,
        )
    assert list(task.serialized_params) == ["note"]
    schema = task.serialized_params["note"]["schema"]
    # optional: the UI marks a field required unless its type allows null
    assert "null" in schema["type"] and schema["maxLength"] == 900


def test_an_empty_note_is_accepted(aws, pending: str, operator) -> None:
    result = complete(operator, pending, dict(answer("Approve"), params_input={"note": None}))
    package = aws("sagemaker").describe_model_package(ModelPackageName=pending)
    assert package["ApprovalDescription"] == "approved by ada in Airflow"
    assert result["note"] == ""
