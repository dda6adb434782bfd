"""Processing jobs: Create/Describe/List/Stop, and running them for real.

Framework images (scikit-learn, XGBoost, any image whose entrypoint is ``python3 script.py``)
run the entrypoint with the emulator's own Python; see ``images.py`` for the table.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from emulator.sagemaker import images, jobs
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.listing import list_response
from emulator.sagemaker.registry import action

KIND = "ProcessingJob"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def missing(name: str) -> str:
    return f"Could not find requested job with name {name}"


@action("CreateProcessingJob")
def create_processing_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProcessingJobName"]
    image = params["AppSpecification"]["ImageUri"]
    runtime = images.processing_runtime(image)
    arn = engine.arn("processing-job", name)
    created = jobs.now()
    record = {
        **copy.deepcopy(params),
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "InProgress",
        "CreationTime": created,
        "LastModifiedTime": created,
    }
    jobs.launch(
        engine,
        KIND,
        name,
        arn,
        record,
        tags=params.get("Tags", []),
        duplicate_message=f"Job name must be unique within an AWS account and region, "
        f"and a job with this name already exists ({arn})",
        run=functools.partial(run_processing_job, engine, name, runtime),
    )
    return {"ProcessingJobArn": arn}


@action("DescribeProcessingJob")
def describe_processing_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProcessingJobName"]
    return engine.store.snapshot(KIND, name, missing_message=missing(name))


@action("ListProcessingJobs")
def list_processing_jobs(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return list_response(
        engine.store.all(KIND),
        params,
        list_key="ProcessingJobSummaries",
        summary_keys=(
            "ProcessingJobName",
            "ProcessingJobArn",
            "CreationTime",
            "ProcessingEndTime",
            "LastModifiedTime",
            "ProcessingJobStatus",
            "FailureReason",
            "ExitMessage",
        ),
        name_key="ProcessingJobName",
        status_key="ProcessingJobStatus",
    )


@action("StopProcessingJob")
def stop_processing_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProcessingJobName"]
    jobs.request_stop(engine, KIND, name, "ProcessingJobStatus", missing(name))
    return {}


def finish(engine: Engine, name: str, status: str, **fields: Any) -> None:
    def change(record: dict[str, Any]) -> None:
        record.update(fields)
        record["ProcessingJobStatus"] = status
        record["ProcessingEndTime"] = record["LastModifiedTime"] = jobs.now()

    engine.store.update(KIND, name, change)


def run_processing_job(
    engine: Engine, name: str, runtime: images.Runtime, control: jobs.RunningProcess
) -> None:
    record = engine.store.snapshot(KIND, name)
    sandbox = jobs.sandbox_for(engine, "processing", name)
    log_file = sandbox.parent / "job.log"
    started = jobs.now()
    engine.store.update(
        KIND, name, lambda r: r.update(ProcessingStartTime=started, LastModifiedTime=started)
    )
    mode = jobs.sandbox_mode()
    log_file.write_text(f"[emulator] {name}: {runtime.description}; /opt/ml via {mode}\n")
    status, fields = "Completed", {}
    try:
        if control.stopped.is_set():
            raise jobs.JobStopped("Stopped by request")
        if runtime.error:
            raise jobs.JobFailure(runtime.error)
        s3 = engine.client("s3")
        for item in record.get("ProcessingInputs", []):
            s3_input = item.get("S3Input")
            if s3_input:
                target = jobs.local_path(sandbox, s3_input["LocalPath"], "LocalPath")
                jobs.download_prefix(s3, s3_input["S3Uri"], target)
        outputs = record.get("ProcessingOutputConfig", {}).get("Outputs", [])
        output_dirs = []
        for item in outputs:
            s3_output = item.get("S3Output")
            if s3_output:
                path = jobs.local_path(sandbox, s3_output["LocalPath"], "LocalPath")
                path.mkdir(parents=True, exist_ok=True)
                output_dirs.append((path, s3_output["S3Uri"]))
        (sandbox / "output").mkdir(exist_ok=True)
        app = record["AppSpecification"]
        command = jobs.python_for(
            list(app.get("ContainerEntrypoint", [])) + list(app.get("ContainerArguments", []))
        )
        if not command:
            raise jobs.JobFailure("ClientError: AppSpecification has no ContainerEntrypoint")
        max_runtime = record.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
        code = jobs.run_process(
            command,
            sandbox=sandbox,
            environment=record.get("Environment", {}),
            log_file=log_file,
            control=control,
            max_runtime=max_runtime,
            mode=mode,
        )
        if code != 0:
            raise jobs.JobFailure(failure_reason(sandbox, log_file, code))
        for path, uri in output_dirs:
            jobs.upload_dir(s3, path, uri)
        message = sandbox / "output" / "message"
        if message.exists():
            fields["ExitMessage"] = message.read_text(errors="replace")[:1024]
    except jobs.JobStopped as stop:
        status = "Stopped"
        fields["FailureReason"] = str(stop)
        fields["ExitMessage"] = str(stop)
    except jobs.JobFailure as failure:
        status = "Failed"
        fields["FailureReason"] = str(failure)[:1024]
    except Exception as exc:  # the emulator's own fault: report it, keep serving
        jobs.log.exception("processing job %s crashed", name)
        status = "Failed"
        fields["FailureReason"] = f"InternalServerError: emulator error: {exc}"[:1024]
    finally:
        engine.unregister_stopper(KIND, name)
    jobs.publish_job_log(engine, LOG_GROUP, name, log_file, started)
    finish(engine, name, status, **fields)


def failure_reason(sandbox: Path, log_file: Path, code: int) -> str:
    """What SageMaker shows: the script's own /opt/ml/output/failure, else exit code + tail."""
    failure = sandbox / "output" / "failure"
    if failure.exists() and failure.read_text(errors="replace").strip():
        return "AlgorithmError: " + failure.read_text(errors="replace").strip()
    return f"AlgorithmError: exit code {code}. Last lines of output:\n{jobs.tail(log_file)}"
