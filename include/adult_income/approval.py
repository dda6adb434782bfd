"""Human approval of a registered model version, in the Airflow UI (Airflow's HITL operators).

With the run's ``human_approval`` param, the version is registered PendingManualApproval and
``approve_model_version`` asks a person in the Airflow UI ("Required actions") whether to
approve it, with the version's accuracy, ROC AUC and the champion comparison in the prompt:

- Approve: the version becomes Approved (UpdateModelPackage, the approver and their note in
  ApprovalDescription) and the deploy path goes on (it still needs ``deploy``);
- Reject: the version becomes Rejected and the deploy path is skipped;
- no answer within ``approval_timeout_minutes``: the version stays PendingManualApproval, the
  deploy path is skipped, and the run is not failed (nobody decided; someone still can, from
  the model-registry page).

Without ``human_approval`` the task does nothing: the version keeps the status it was
registered with (``model_approval_status``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import BaseXCom, Param

NOTE_PARAM = "note"


def run_param(context: Any, name: str) -> Any:
    """A DAG param as this run sees it: the run's conf, else the DAG's default. (A HITL task's
    own ``params`` are its form fields only, so the DAG's are read from the DAG and the run.)"""
    conf = context["dag_run"].conf or {}
    if name in conf:
        return conf[name]
    return context["dag"].params[name]


def note_field() -> Param:
    """The form's one field: optional (null allowed, so the UI does not mark it required)."""
    return Param(
        None,
        type=["null", "string"],
        maxLength=900,
        title="Note",
        description="why; kept in the registry with your name (ApprovalDescription)",
        source="task",
    )


def version_label(package_arn: str) -> str:
    """``group/N`` of a model package ARN."""
    return package_arn.rsplit("model-package/", 1)[-1]


def approval_prompt(package_arn: str, gate: dict[str, Any]) -> tuple[str, str]:
    """The question and its Markdown details: what a person needs to decide."""
    label = version_label(package_arn)
    group, _, version = label.rpartition("/")
    subject = f"Approve version {version} of model package group {group}?"

    def score(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    lines = [
        f"Model package `{package_arn}`, registered by this run as PendingManualApproval.",
        "",
        "| | this version | champion |",
        "| --- | --- | --- |",
    ]
    champion = gate.get("champion")
    theirs = champion or {}
    lines.append(f"| accuracy | {score(gate.get('accuracy'))} | {score(theirs.get('accuracy'))} |")
    lines.append(f"| ROC AUC | {score(gate.get('roc_auc'))} | {score(theirs.get('roc_auc'))} |")
    lines.append("")
    if champion is None:
        lines.append("The group has no approved version yet: this would be its first champion.")
    else:
        lines.append(
            f"Champion: `{champion.get('model_package_arn')}`, scored on this run's test set."
        )
    lines += ["", f"Gate: {gate.get('reason')}", "", "Approving it lets the deploy path run."]
    return subject, "\n".join(lines)


def decision_description(chosen: str, user: dict[str, Any] | None, note: str) -> str:
    """ApprovalDescription for UpdateModelPackage (at most 1,000 characters)."""
    who = (user or {}).get("name") or (user or {}).get("id") or "unknown user"
    verb = "approved" if chosen == ApprovalOperator.APPROVE else "rejected"
    text = f"{verb} by {who} in Airflow"
    if note.strip():
        text += f": {note.strip()}"
    return text[:1000]


class ModelVersionApprovalOperator(ApprovalOperator):
    """Asks whether to approve the version the register task made, then records the answer in
    the model registry; see the module's docstring for what each answer does."""

    # The connection comes from the run's plan, like every other AWS task's.
    template_fields = (*ApprovalOperator.template_fields, "aws_conn_id")

    def __init__(
        self,
        *,
        register_task_id: str,
        gate_task_id: str,
        aws_conn_id: str | None,
        **kwargs: Any,
    ) -> None:
        # The DAG merges its own params into every task's; the form is the note alone (the run's
        # params are read from the run, run_param). Copying the DAG's in would make each of them a
        # form field, some required and empty, and the answer could not be sent.
        kwargs.pop("params", None)
        super().__init__(
            subject="Approve the model version this run registered?",
            # No defaults: at the deadline nobody has answered, and Airflow records no response
            # (a default would be recorded, and shown in the UI, as the answer). The scheduler's
            # sweep (the triggerer before Airflow 3.3) then resumes the task with a timeout event.
            defaults=None,
            params={NOTE_PARAM: note_field()},
            **kwargs,
        )
        self.register_task_id = register_task_id
        self.gate_task_id = gate_task_id
        self.aws_conn_id = aws_conn_id

    def sagemaker(self) -> Any:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(aws_conn_id=self.aws_conn_id).conn

    def execute(self, context: Any) -> Any:
        if not run_param(context, "human_approval"):
            status = run_param(context, "model_approval_status")
            self.log.info("human_approval is false: the version keeps its status %s", status)
            return None
        package_arn = context["ti"].xcom_pull(task_ids=self.register_task_id)
        gate = context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate") or {}
        self.subject, self.body = approval_prompt(package_arn, gate)
        self.response_timeout = dt.timedelta(minutes=run_param(context, "approval_timeout_minutes"))
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # HITLOperator's part validates the answer and records it for the UI; the approval
        # operator's own part (skip on Reject) is replaced by what the registry needs.
        package_arn = context["ti"].xcom_pull(task_ids=self.register_task_id)
        # A timeout event, or (from a question that had defaults) the defaults taken at the
        # timeout: either way nobody decided.
        if event.get("error_type") == "timeout" or event.get("timedout"):
            self.log.info(
                "no answer in time: %s stays PendingManualApproval; the deploy path is skipped",
                package_arn,
            )
            return self.skip_downstream(
                context, {"decision": "timed_out", "model_package_arn": package_arn}
            )
        result = HITLOperator.execute_complete(self, context=context, event=event)
        chosen = result["chosen_options"][0]
        note = str((result.get("params_input") or {}).get(NOTE_PARAM) or "")
        status = "Approved" if chosen == ApprovalOperator.APPROVE else "Rejected"
        self.sagemaker().update_model_package(
            ModelPackageArn=package_arn,
            ModelApprovalStatus=status,
            ApprovalDescription=decision_description(chosen, result["responded_by_user"], note),
        )
        self.log.info("%s is now %s (%s)", package_arn, status, chosen)
        decision = {
            "decision": status.lower(),
            "model_package_arn": package_arn,
            "by": (result["responded_by_user"] or {}).get("name"),
            "note": note,
        }
        if status == "Rejected":
            return self.skip_downstream(context, decision)
        return decision

    def skip_downstream(self, context: Any, decision: dict[str, Any]) -> dict[str, Any]:
        """Skip the deploy path, keeping ``decision`` as the task's result for the summary.

        Skipping ends the task there (Airflow 3's SkipMixin raises DownstreamTasksSkipped), so
        the value it would have returned is pushed first."""
        context["ti"].xcom_push(key=BaseXCom.XCOM_RETURN_KEY, value=decision)
        tasks = list(context["task"].get_direct_relatives(upstream=False))
        if tasks:
            self.skip(ti=context["ti"], tasks=tasks)
        return decision
