"""Training jobs: Create/Describe/List/Stop, running the built-in XGBoost algorithm or a script.

- Built-in XGBoost (a sagemaker-xgboost image, no ``sagemaker_program`` hyperparameter):
  emulator/algorithms/xgboost_builtin.py plays the algorithm container.
- Script mode (``sagemaker_program`` + ``sagemaker_submit_directory``): the image's training
  toolkit, played by emulator/algorithms/training_toolkit.py, installs the source dir's
  requirements.txt and runs the entry point with the SM_* variables and ``--name value``
  arguments (sagemaker-training for scikit-learn images, sagemaker-containers for XGBoost).
Either way /opt/ml/model is packed as ``{S3OutputPath}/{job}/output/model.tar.gz``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

from emulator import archives, environments
from emulator.algorithms import knn_builtin, training_toolkit, xgboost_builtin
from emulator.sagemaker import images, jobs, training_metrics
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.registry import action

KIND = "TrainingJob"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"


# What DescribeTrainingJob answers for members the request left out (the service's defaults).
DESCRIBED_DEFAULTS: dict[str, Any] = {
    "AlgorithmSpecification": {"EnableSageMakerMetricsTimeSeries": False},
    "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    "InputDataConfig": [
        {
            "CompressionType": "None",
            "RecordWrapperType": "None",
            "DataSource": {"S3DataSource": {"S3DataDistributionType": "FullyReplicated"}},
        }
    ],
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
}


@action("CreateTrainingJob")
def create_training_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    created = jobs.now()
    return jobs.launch(
        engine,
        TRAINING,
        params,
        functools.partial(run_training_job, engine, params["TrainingJobName"]),
        created=created,
        SecondaryStatus="Starting",
        SecondaryStatusTransitions=[
            {"Status": "Starting", "StartTime": created, "StatusMessage": "Preparing the job"}
        ],
        ModelArtifacts={"S3ModelArtifacts": ""},
    )


@action("StopTrainingJob")
def stop_training_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    jobs.request_stop(engine, TRAINING, params["TrainingJobName"], SecondaryStatus="Stopping")
    return {}


def secondary(record: dict[str, Any], status: str, message: str, moment: dt.datetime) -> None:
    """Close the current secondary status and open ``status``."""
    transitions = record["SecondaryStatusTransitions"]
    transitions[-1]["EndTime"] = moment
    transitions.append({"Status": status, "StartTime": moment, "StatusMessage": message})
    record["SecondaryStatus"] = status
    record["LastModifiedTime"] = moment


def set_secondary(engine: Engine, name: str, status: str, message: str) -> None:
    engine.store.update(KIND, name, lambda record: secondary(record, status, message, jobs.now()))


def command_for(record: dict[str, Any], sandbox: Path) -> tuple[list[str], dict[str, str], str]:
    """The process that plays the training container, its environment and a description."""
    image = record["AlgorithmSpecification"].get("TrainingImage", "")
    repository = images.repository(image)
    hyperparameters = record.get("HyperParameters", {})
    environment = dict(record.get("Environment", {}))
    if "sagemaker_program" in hyperparameters:
        return script_mode_command(record, sandbox, repository, environment)
    if repository == "knn":
        command = ["python3", knn_builtin.__file__, "train"]
        for option, directory in (
            ("--config-dir", "input/config"),
            ("--data-dir", "input/data"),
            ("--model-dir", "model"),
            ("--output-dir", "output"),
        ):
            command += [option, f"/opt/ml/{directory}"]
        return command, environment, "image knn: built-in k-NN algorithm"
    if repository != "sagemaker-xgboost":
        raise jobs.JobFailure(
            f"ClientError: image {image!r} is not emulated for training; supported: the "
            "built-in XGBoost and k-NN algorithms and script mode on " + ", ".join(images.SUPPORTED)
        )
    command = [
        "python3",  # the image environment's interpreter, as in script mode
        xgboost_builtin.__file__,
        "--config-dir",
        "/opt/ml/input/config",
        "--data-dir",
        "/opt/ml/input/data",
        "--model-dir",
        "/opt/ml/model",
        "--output-dir",
        "/opt/ml/output",
        # The container version decides the hyperparameters accepted and the model's format.
        "--image-tag",
        environments.parse_image(image)[1],
    ]
    return command, environment, f"image {repository}: built-in XGBoost algorithm"


# Which training toolkit each framework container's ``train`` runs (its requirements files).
TOOLKIT_OF_IMAGE = {
    "sagemaker-scikit-learn": "sagemaker-training",
    "sagemaker-xgboost": "sagemaker-containers",
}


def pip_configuration() -> dict[str, str]:
    """This machine's pip settings, so ``requirements.txt`` reaches the index pip here reaches
    (a job's HOME is its sandbox, where pip would find no configuration)."""
    settings = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    if "PIP_CONFIG_FILE" not in settings:
        for candidate in (Path("~/.config/pip/pip.conf"), Path("~/.pip/pip.conf")):
            if candidate.expanduser().is_file():
                settings["PIP_CONFIG_FILE"] = str(candidate.expanduser())
                break
    return settings


def script_mode_command(
    record: dict[str, Any], sandbox: Path, repository: str, environment: dict[str, str]
) -> tuple[list[str], dict[str, str], str]:
    """The framework container's ``train``: its training toolkit (training_toolkit.py), which
    sets the SM_* variables, installs requirements.txt and runs the entry point."""
    image = record["AlgorithmSpecification"].get("TrainingImage", "")
    toolkit = TOOLKIT_OF_IMAGE.get(repository)
    if toolkit is None:
        raise jobs.JobFailure(f"ClientError: image {image!r} is not emulated")
    hyperparameters = training_toolkit.decode_hyperparameters(record["HyperParameters"])
    program = hyperparameters["sagemaker_program"]
    environment = {
        **pip_configuration(),
        **images.container_pythonpath(repository),
        # What SageMaker sets in every training container.
        "TRAINING_JOB_NAME": record["TrainingJobName"],
        "TRAINING_JOB_ARN": record["TrainingJobArn"],
        **environment,
    }
    command = [
        "python3",  # the image environment's interpreter, set by run_training_job
        training_toolkit.__file__,
        "--toolkit",
        toolkit,
        "--base",
        "/opt/ml",
        # Outside the sandbox: pip's installs are the job's, never the shared image's.
        "--overlay",
        str(sandbox.parent / "python-overlay"),
        "--job-name",
        record["TrainingJobName"],
    ]
    return command, environment, f"image {repository}: script mode, {program} via {toolkit}"


def prepare_inputs(engine: Engine, record: dict[str, Any], sandbox: Path) -> None:
    s3 = engine.client("s3")
    config = sandbox / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    for channel in record.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise jobs.JobFailure(
                f"ClientError: channel {channel['ChannelName']}: only S3 data sources are emulated"
            )
        # ChannelName's pattern allows "..": keep the channel inside the sandbox.
        try:
            target = jobs.confined(sandbox, "input", "data", channel["ChannelName"])
        except ValidationError as exc:
            raise jobs.JobFailure(f"ClientError: ChannelName: {exc.message}") from exc
        jobs.download_prefix(s3, source["S3Uri"], target)
    hyperparameters = record.get("HyperParameters", {})
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(input_data_config(record)))
    (config / "resourceconfig.json").write_text(json.dumps(resource_config(record)))
    # The toolkit's code directory exists even when the job names no source directory.
    (sandbox / "code").mkdir(exist_ok=True)
    submit = hyperparameters.get("sagemaker_submit_directory")
    if submit:
        uri = training_toolkit.decode_hyperparameters({"uri": submit})["uri"]
        code_dir = sandbox / "code"
        archive_dir = sandbox.parent / "submit"
        jobs.download_prefix(s3, uri, archive_dir)
        for archive in archive_dir.glob("*.tar.gz"):
            safe_extract(archive, code_dir)


def input_data_config(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """inputdataconfig.json as SageMaker writes it: each channel's settings (ContentType only
    when the channel names one)."""
    described = {}
    for channel in record.get("InputDataConfig", []):
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        entry = {
            "TrainingInputMode": channel.get("InputMode")
            or record["AlgorithmSpecification"].get("TrainingInputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        described[channel["ChannelName"]] = entry
    return described


def resource_config(record: dict[str, Any]) -> dict[str, Any]:
    """resourceconfig.json of the one instance a job runs on here."""
    instance_type = record.get("ResourceConfig", {}).get("InstanceType", "local")
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }


def safe_extract(archive: Path, target: Path) -> None:
    # Our own checks, not tarfile's "data" filter (bypassable on 3.11.7, and no size cap).
    try:
        archives.safe_extract(archive, target, what="sagemaker_submit_directory")
    except archives.UnsafeArchive as exc:
        raise jobs.JobFailure(f"ClientError: {exc}") from exc


def on_end(record: dict[str, Any], run: jobs.JobRun) -> None:
    """The final secondary status (ended too) and the billed time."""
    assert run.ended is not None
    secondary(record, run.status, f"Training job {run.status.lower()}", run.ended)
    record["SecondaryStatusTransitions"][-1]["EndTime"] = run.ended
    seconds = max(1, int((run.ended - run.started).total_seconds()))
    record["TrainingTimeInSeconds"] = record["BillableTimeInSeconds"] = seconds


TRAINING = jobs.JobKind(
    KIND,
    missing="Requested resource not found: Could not find training job '{name}'",
    duplicate="Training job names must be unique within an AWS account and region, and a "
    "training job with this name already exists ({arn})",
    more_summary_keys=("SecondaryStatus",),
    described_defaults=DESCRIBED_DEFAULTS,
    log_group=LOG_GROUP,
    on_end=on_end,
)
TRAINING.register("DescribeTrainingJob", "ListTrainingJobs")


def run_training_job(engine: Engine, name: str, control: jobs.RunningProcess) -> None:
    with jobs.job_run(engine, TRAINING, name, control) as run:
        record = engine.store.snapshot(KIND, name)
        sandbox = jobs.sandbox_for(engine, "training", name)
        log_file = run.log_file = sandbox.parent / "job.log"
        mode = jobs.sandbox_mode()
        log_file.write_text("")
        command, environment, description = command_for(record, sandbox)
        with log_file.open("a") as handle:
            handle.write(f"[emulator] {name}: {description}; /opt/ml via {mode}\n")
        image = record["AlgorithmSpecification"].get("TrainingImage", "")
        command = jobs.python_for(command, jobs.job_environment(image, log_file).python)
        set_secondary(engine, name, "Downloading", "Downloading input data")
        prepare_inputs(engine, record, sandbox)
        for directory in ("model", "output/data"):
            (sandbox / directory).mkdir(parents=True, exist_ok=True)
        set_secondary(engine, name, "Training", "Training in progress")
        try:
            code = run_in_container(
                command,
                sandbox=sandbox,
                environment=environment,
                log_file=log_file,
                control=control,
                max_runtime=record.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
                mode=mode,
            )
        except jobs.JobStopped:
            # SageMaker keeps what the algorithm saved after SIGTERM (a tuning job's early
            # stop, StopTrainingJob) and the metrics it logged until then.
            run.fields["FinalMetricDataList"] = metrics_of(log_file, record)
            if any((sandbox / "model").iterdir()):
                upload_model(engine, record, name, sandbox, run)
            raise
        if code != 0:
            # /opt/ml/output/failure first, as SageMaker reads it; else the log's error line.
            raise jobs.exit_failure(sandbox, log_file, code, jobs.TRAINING_REPORTS)
        set_secondary(engine, name, "Uploading", "Uploading generated training model")
        upload_model(engine, record, name, sandbox, run)
        run.fields["FinalMetricDataList"] = metrics_of(log_file, record)


def run_in_container(command: list[str], *, sandbox: Path, **options: Any) -> int:
    """jobs.run_process, then the job's Python overlay (what its requirements.txt installed) is
    thrown away with the container it stands for."""
    try:
        return jobs.run_process(command, sandbox=sandbox, **options)
    finally:
        shutil.rmtree(sandbox.parent / "python-overlay", ignore_errors=True)


def metrics_of(log_file: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
    return training_metrics.final_metric_data_list(log_file, record, jobs.now())


def upload_model(
    engine: Engine, record: dict[str, Any], name: str, sandbox: Path, run: jobs.JobRun
) -> None:
    """/opt/ml/model packed as ``{S3OutputPath}/{job}/output/model.tar.gz``."""
    output_path = record["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    archive = sandbox.parent / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((sandbox / "model").iterdir()):
            tar.add(path, arcname=path.name)
    bucket, key = jobs.split_s3_uri(f"{output_path}/{name}/output/model.tar.gz")
    engine.client("s3").upload_file(str(archive), bucket, key, Config=jobs.SELF_TRANSFER)
    run.fields["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://{bucket}/{key}"}
