"""Processing jobs: Create/Describe/List/Stop, and running them for real.

Framework images (scikit-learn, XGBoost, any image whose entrypoint is ``python3 script.py``)
run the entrypoint with the Python of the image's own environment (its tag's pandas, numpy,
scikit-learn...; see ``emulator/environments.py``); ``images.py`` has the table.
"""

from __future__ import annotations

import functools
from typing import Any

from emulator.sagemaker import images, jobs
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.registry import action

KIND = "ProcessingJob"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


# What DescribeProcessingJob answers for members the request left out (the service's defaults).
DESCRIBED_DEFAULTS: dict[str, Any] = {
    "ProcessingInputs": [
        {
            "AppManaged": False,
            "S3Input": {"S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"},
        }
    ],
    "ProcessingOutputConfig": {"Outputs": [{"AppManaged": False}]},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
}


def on_end(record: dict[str, Any], run: jobs.JobRun) -> None:
    if run.status == "Stopped":  # AWS shows why in ExitMessage too
        record["ExitMessage"] = run.fields["FailureReason"]


PROCESSING = jobs.JobKind(
    KIND,
    missing="Could not find requested job with name {name}",
    more_summary_keys=("FailureReason", "ExitMessage"),
    described_defaults=DESCRIBED_DEFAULTS,
    log_group=LOG_GROUP,
    on_end=on_end,
)
PROCESSING.register("DescribeProcessingJob", "ListProcessingJobs")


@action("CreateProcessingJob")
def create_processing_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProcessingJobName"]
    runtime = images.processing_runtime(params["AppSpecification"]["ImageUri"])
    run = functools.partial(run_processing_job, engine, name, runtime)
    return jobs.launch(engine, PROCESSING, params, run)


@action("StopProcessingJob")
def stop_processing_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    jobs.request_stop(engine, PROCESSING, params["ProcessingJobName"])
    return {}


def run_processing_job(
    engine: Engine, name: str, runtime: images.Runtime, control: jobs.RunningProcess
) -> None:
    with jobs.job_run(engine, PROCESSING, name, control) as run:
        record = engine.store.snapshot(KIND, name)
        sandbox = jobs.sandbox_for(engine, "processing", name)
        log_file = run.log_file = sandbox.parent / "job.log"
        mode = jobs.sandbox_mode()
        log_file.write_text(f"[emulator] {name}: {runtime.description}; /opt/ml via {mode}\n")
        if runtime.error:
            raise jobs.JobFailure(runtime.error)
        environment = jobs.job_environment(record["AppSpecification"]["ImageUri"], log_file)
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
            list(app.get("ContainerEntrypoint", [])) + list(app.get("ContainerArguments", [])),
            environment.python,
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
        # SageMaker sets ExitMessage from the first 1 KB of /opt/ml/output/message however the
        # job ends: a failing script's own explanation is most needed when it fails.
        message = jobs.read_report(sandbox, "message")
        if message is not None:
            run.fields["ExitMessage"] = message
        if code != 0:
            raise jobs.exit_failure(sandbox, log_file, code, jobs.PROCESSING_REPORTS)
        for path, uri in output_dirs:
            jobs.upload_dir(s3, path, uri)
