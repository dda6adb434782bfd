"""What a restart on the same data dir does with work that was under way when the emulator ended.

Records come back from SQLite as they were last written. Nothing that was running survives the
emulator's process (its jobs die with it), so:

- jobs (processing, training, transform, hyperparameter tuning, AutoML) that were InProgress come
  back Failed, and Stopping ones Stopped, each with a FailureReason saying the emulator ended
  while they ran, so attach-or-create starts the next attempt instead of waiting for ever;
- pipeline executions that were Executing (or Stopping) come back Failed (Stopped), their
  running steps with them;
- endpoints that were InService are served again, from the same endpoint config, and stay
  InService; endpoints that were Creating or Updating finish what they were doing;
- notebook instances that were Pending, Stopping, Updating or Deleting finish that at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from emulator.sagemaker.jobs import now

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

log = logging.getLogger("emulator.recovery")

REASON = "The emulator stopped while this {what} was running; start it again (a new attempt)."

# kind -> (status member, end-time member)
JOB_KINDS = {
    "ProcessingJob": ("ProcessingJobStatus", "ProcessingEndTime"),
    "TrainingJob": ("TrainingJobStatus", "TrainingEndTime"),
    "TransformJob": ("TransformJobStatus", "TransformEndTime"),
    # After the training jobs: its counters are then counted from what they came back as.
    "HyperParameterTuningJob": ("HyperParameterTuningJobStatus", "HyperParameterTuningEndTime"),
    "AutoMLJob": ("AutoMLJobStatus", "EndTime"),
}


def interrupted_job(record: dict[str, Any], status_key: str, end_key: str) -> None:
    """InProgress -> Failed, Stopping -> Stopped, with the reason and an end time."""
    moment = now()
    stopping = record[status_key] == "Stopping"
    record[status_key] = "Stopped" if stopping else "Failed"
    record["FailureReason"] = REASON.format(what="job")
    record[end_key] = record["LastModifiedTime"] = moment
    if "AutoMLJobSecondaryStatus" in record:
        record["AutoMLJobSecondaryStatus"] = record[status_key]
    if "SecondaryStatus" in record:  # training jobs
        record["SecondaryStatus"] = record[status_key]
        transitions = record.get("SecondaryStatusTransitions") or []
        if transitions:
            transitions[-1].setdefault("EndTime", moment)
        transitions.append(
            {"Status": record[status_key], "StartTime": moment, "StatusMessage": REASON}
        )


def interrupted_execution(record: dict[str, Any]) -> None:
    moment = now()
    stopping = record["PipelineExecutionStatus"] == "Stopping"
    record["PipelineExecutionStatus"] = "Stopped" if stopping else "Failed"
    record["FailureReason"] = REASON.format(what="pipeline execution")
    record["LastModifiedTime"] = moment
    for step in record.get("_steps", []):
        if step.get("StepStatus") in {"Executing", "Stopping"}:
            step["StepStatus"] = "Stopped" if stopping else "Failed"
            step["FailureReason"] = REASON.format(what="step")
            step["EndTime"] = moment


def recover(engine: Engine) -> dict[str, int]:
    """Settle what the previous emulator left under way; returns counts by what was done."""
    counts = {"jobs": 0, "executions": 0, "endpoints": 0, "notebook instances": 0}
    with engine.store.lock:
        for kind, (status_key, end_key) in JOB_KINDS.items():
            for record in engine.store.all(kind):
                if record[status_key] in {"InProgress", "Stopping"}:
                    name = record[kind + "Name"]
                    engine.store.update(
                        kind, name, lambda r, s=status_key, e=end_key: interrupted_job(r, s, e)
                    )
                    counts["jobs"] += 1
        from emulator.sagemaker import tuning_jobs

        for record in engine.store.all("HyperParameterTuningJob"):
            tuning_jobs.recovered(engine, record["HyperParameterTuningJobName"])
        for record in engine.store.all("PipelineExecution"):
            if record["PipelineExecutionStatus"] in {"Executing", "Stopping"}:
                engine.store.update(
                    "PipelineExecution", record["PipelineExecutionArn"], interrupted_execution
                )
                counts["executions"] += 1
        endpoints = [
            dict(record)
            for record in engine.store.all("Endpoint")
            if record["EndpointStatus"] in {"InService", "Creating", "Updating"}
        ]
    from emulator.sagemaker import endpoints as endpoint_module

    for record in endpoints:
        pending = (record.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        config = pending or record["EndpointConfigName"]
        endpoint_module.begin(engine, record["EndpointName"], config, record["Generation"])
        counts["endpoints"] += 1
    from emulator.sagemaker import notebook_instances

    counts["notebook instances"] = notebook_instances.recovered(engine)
    if any(counts.values()):
        log.info("restart: %s", counts)
    return counts
