"""Training jobs: the built-in XGBoost algorithm on preprocess.py's output, evaluated by
evaluate.py as a processing job; hyperparameter checks; the provider's operators."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from emulator import environments
from tests.conftest import (
    CODE_DIR,
    DAG_DEFAULT_HYPERPARAMETERS,
    XGBOOST_IMAGE,
    processing_input,
    processing_output,
    script_request,
    training_request,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_prefix(aws, bucket, tmp_path_factory) -> str:
    """preprocess.py's output on the bundled data, uploaded to the emulator's S3."""
    out = tmp_path_factory.mktemp("processed")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "include" / "scripts" / "preprocess.py"),
            "--input-dir",
            str(ROOT / "include" / "data"),
            *[f"--{split}-dir={out / split}" for split in ("train", "validation", "test")],
            f"--schema-dir={out / 'schema'}",
        ],
        check=True,
        capture_output=True,
    )
    prefix = f"training-{uuid.uuid4().hex[:6]}"
    for split in ("train", "validation", "test"):
        key = f"{prefix}/{split}/{split}.csv"
        aws("s3").upload_file(str(out / split / f"{split}.csv"), bucket, key)
    return prefix


def train(aws, bucket: str, prefix: str, hyperparameters: dict, image: str = XGBOOST_IMAGE) -> dict:
    name = f"train-{uuid.uuid4().hex[:8]}"
    request = training_request(name, bucket, prefix, hyperparameters, image)
    aws("sagemaker").create_training_job(**request)
    return wait_for(
        lambda: aws("sagemaker").describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )


@pytest.fixture(scope="module")
def trained(aws, bucket, data_prefix) -> dict:
    return train(aws, bucket, data_prefix, DAG_DEFAULT_HYPERPARAMETERS)


def test_builtin_xgboost_writes_model_and_metrics(trained: dict, bucket: str) -> None:
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == (
        f"s3://{bucket}/{artifact.split('/')[3]}/models/{trained['TrainingJobName']}"
        "/output/model.tar.gz"
    )
    metrics = {m["MetricName"]: m["Value"] for m in trained["FinalMetricDataList"]}
    assert set(metrics) == {"train:logloss", "validation:logloss"}
    assert 0 < metrics["validation:logloss"] < 0.4
    statuses = [t["Status"] for t in trained["SecondaryStatusTransitions"]]
    assert statuses[0] == "Starting" and statuses[-1] == "Completed" and "Training" in statuses


def test_evaluate_py_as_a_processing_job_reaches_the_quality_floor(
    aws, bucket, data_prefix, trained
) -> None:
    name = f"eval-{uuid.uuid4().hex[:8]}"
    aws("s3").upload_file(
        str(ROOT / "include" / "scripts" / "evaluate.py"), bucket, f"{name}/code/evaluate.py"
    )
    root = "/opt/ml/processing"
    request = script_request(
        name,
        "evaluate.py",
        XGBOOST_IMAGE,
        inputs=[
            processing_input(
                "model", trained["ModelArtifacts"]["S3ModelArtifacts"], f"{root}/model"
            ),
            processing_input("test", f"s3://{bucket}/{data_prefix}/test", f"{root}/test"),
            processing_input("code", f"s3://{bucket}/{name}/code/evaluate.py", CODE_DIR),
        ],
        outputs=[
            processing_output(
                "evaluation", f"s3://{bucket}/{name}/evaluation", f"{root}/evaluation"
            )
        ],
    )
    aws("sagemaker").create_processing_job(**request)
    job = wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=name),
        "ProcessingJobStatus",
    )
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(
        aws("s3").get_object(Bucket=bucket, Key=f"{name}/evaluation/evaluation.json")["Body"].read()
    )
    assert report["metrics"]["accuracy"]["value"] >= 0.86
    assert report["metrics"]["roc_auc"]["value"] >= 0.92


# The real container's wording (sagemaker_algorithm_toolkit), where it has one.
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"max_depth": "-1"}, "Hyperparameter max_depth: -1 is not in [0, +inf)"),
        ({"num_round": None}, "Missing required hyperparameter: num_round"),
        ({"colour": "blue"}, "Extraneous hyperparameter found: colour. "),
        ({"eta": "fast"}, "Hyperparameter eta: could not parse value 'fast' as a number"),
        ({"subsample": "0"}, "Hyperparameter subsample: 0 is not in (0, 1]"),
    ],
)
def test_invalid_hyperparameters_fail_the_job_naming_them(
    aws, bucket, data_prefix, change: dict, reason: str
) -> None:
    hyperparameters = {**DAG_DEFAULT_HYPERPARAMETERS, **change}
    hyperparameters = {k: v for k, v in hyperparameters.items() if v is not None}
    job = train(aws, bucket, data_prefix, hyperparameters)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"ClientError: {reason}"), job["FailureReason"]
    assert "exit code 1" in job["FailureReason"]


GOOD_ROWS = "1,0.5,3\n0,0.25,1\n1,0.75,2\n0,0.1,4\n"


@pytest.mark.parametrize(
    ("train_csv", "reason"),
    [
        # XGBoost itself refuses inf with a C++ backtrace: the algorithm must say which value,
        # and where, in one sentence.
        (GOOD_ROWS + "0,inf,1\n", "Channel train: file train.csv, line 5, column 2: 'inf' is not"),
        (GOOD_ROWS + "1,abc,1\n", "Channel train: file train.csv, line 5, column 2: 'abc' is not"),
        (GOOD_ROWS + "\n0,1\n", "Channel train: file train.csv, line 6 has 2 columns, expected 3"),
        (
            GOOD_ROWS + "2,0.5,1\n",
            "Channel train: file train.csv, line 5: label 2 is not in [0, 1]",
        ),
    ],
)
def test_bad_training_data_fails_with_a_client_error_naming_channel_file_and_line(
    aws, bucket, train_csv: str, reason: str
) -> None:
    prefix = f"bad-data-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/train/train.csv", Body=train_csv.encode())
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/validation/v.csv", Body=GOOD_ROWS.encode())
    job = train(aws, bucket, prefix, {"objective": "binary:logistic", "num_round": "2"})
    assert job["TrainingJobStatus"] == "Failed"
    failure = job["FailureReason"]
    assert failure.startswith(f"ClientError: {reason}"), failure
    for backtrace in ("terminate called", "[bt]", "Stack trace", "Traceback", ".cc:", ".cu:"):
        assert backtrace not in failure


class ProviderClock:
    """The provider's log tailing describes a training job only once 30 s of ``time.monotonic``
    have passed since the last look (hooks/sagemaker.py): here 30 s pass between any two looks,
    so it describes the job at every poll instead of making the test wait out half a minute."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        self.skipped += 30.0
        return time.monotonic() + self.skipped

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_provider_training_operator_streams_the_metrics(
    aws, bucket, data_prefix, connection, capfd, monkeypatch
) -> None:
    from airflow.providers.amazon.aws.hooks import sagemaker as provider_hook
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

    monkeypatch.setattr(provider_hook, "time", ProviderClock())

    name = f"op-train-{uuid.uuid4().hex[:6]}"
    operator = SageMakerTrainingOperator(
        task_id="train",
        config=training_request(name, bucket, data_prefix, DAG_DEFAULT_HYPERPARAMETERS),
        aws_conn_id=connection,
        print_log=True,
        check_interval=1,
        action_if_job_exists="fail",
    )
    result = operator.execute({})
    assert result["Training"]["TrainingJobStatus"] == "Completed"
    # Airflow's task logging writes to the process's streams; the rounds come from CloudWatch.
    printed = "".join(capfd.readouterr())
    assert "[49]" in printed and "validation-logloss" in printed


def test_provider_processing_operator_completes(aws, bucket, connection) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerProcessingOperator

    from tests.emulator.test_processing_jobs import COPY_SCRIPT, job_request

    name = f"op-proc-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/in/a.txt", Body=b"a")
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/code/job.py", Body=COPY_SCRIPT)
    operator = SageMakerProcessingOperator(
        task_id="process",
        config=job_request(name, bucket, "job.py"),
        aws_conn_id=connection,
        check_interval=1,
        action_if_job_exists="fail",
    )
    assert operator.execute({})["Processing"]["ProcessingJobStatus"] == "Completed"


SCRIPT_MODE_TRAIN = b"""
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")).read().splitlines()
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"epochs": args.epochs, "rows": len(rows),
               "channels": json.loads(os.environ["SM_CHANNELS"])}, handle)
"""


def script_mode(aws, bucket: str, data_prefix: str, script: bytes) -> dict:
    """Run ``script`` as a script-mode training job on the train channel; its final description."""
    import io
    import tarfile

    name = f"script-{uuid.uuid4().hex[:8]}"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/sourcedir.tar.gz", Body=archive.getvalue())
    request = training_request(
        name,
        bucket,
        data_prefix,
        {
            "epochs": "3",
            # The SageMaker SDK JSON-encodes these two, and so does this request.
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{name}/sourcedir.tar.gz"),
        },
    )
    request["InputDataConfig"] = request["InputDataConfig"][:1]
    aws("sagemaker").create_training_job(**request)
    return wait_for(
        lambda: aws("sagemaker").describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )


def test_script_mode_runs_the_users_script_with_sm_variables(aws, bucket, data_prefix) -> None:
    import io
    import tarfile

    job = script_mode(aws, bucket, data_prefix, SCRIPT_MODE_TRAIN)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    body = aws("s3").get_object(Bucket=bucket, Key=artifact)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        model = json.load(tar.extractfile("model.json"))
    assert model == {"epochs": 3, "rows": 18097, "channels": ["train"]}


# Writes SageMaker's failure file, then dies of something else: the file must win over the
# traceback the log ends with.
SCRIPT_MODE_FAILURE = b"""
import os
with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as handle:
    handle.write("Exception during training: channel train has no label column")
raise RuntimeError("cleanup failed")
"""


@pytest.mark.parametrize(
    ("script", "lead"),
    [
        (
            SCRIPT_MODE_FAILURE,
            "AlgorithmError: Exception during training: channel train has no label column",
        ),
        (b"raise ValueError('boom')\n", "AlgorithmError: ValueError: boom"),
    ],
)
def test_script_mode_failure_reason_leads_with_the_failure_file_else_the_error_line(
    aws, bucket, data_prefix, script: bytes, lead: str
) -> None:
    job = script_mode(aws, bucket, data_prefix, script)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"{lead}; exit code 1. "), job["FailureReason"]


# --- the built-in algorithm per container version (aws/sagemaker-xgboost-container) ----------
ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost"
XGBOOST_1_0_1 = f"{ECR}:1.0-1-cpu-py3"
XGBOOST_1_7_1 = f"{ECR}:1.7-1"


def tiny_regression_csv(rows: int) -> str:
    """``rows`` rows of label (2a + b), a, b: enough to train on, quick to."""
    return "".join(
        f"{2 * (i % 7) / 7 + (i % 5) / 5:.4f},{(i % 7) / 7:.4f},{(i % 5) / 5:.4f}\n"
        for i in range(rows)
    )


@pytest.fixture(scope="module")
def tiny_prefix(aws, bucket) -> str:
    prefix = f"tiny-{uuid.uuid4().hex[:6]}"
    for channel, rows in (("train", 40), ("validation", 20)):
        aws("s3").put_object(
            Bucket=bucket, Key=f"{prefix}/{channel}/{channel}.csv", Body=tiny_regression_csv(rows)
        )
    return prefix


def model_file(aws, job: dict, target: Path) -> Path:
    """The job's model.tar.gz downloaded and its ``xgboost-model`` extracted into ``target``."""
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    archive = target / "model.tar.gz"
    aws("s3").download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "xgboost-model"


def run_in_image(image: str, script: str, *args: str) -> str:
    """``script`` run by the interpreter of ``image``'s environment; its stdout."""
    python = environments.environment_for(image).python
    result = subprocess.run(
        [python, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_1_0_1_accepts_silent_and_reg_linear_and_pickles_the_booster(
    aws, bucket, tiny_prefix, tmp_path
) -> None:
    hyperparameters = {"num_round": "5", "silent": "0", "objective": "reg:linear"}
    job = train(aws, bucket, tiny_prefix, hyperparameters, XGBOOST_1_0_1)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    path = model_file(aws, job, tmp_path)
    # The 1.0-1 container pickle.dump's the Booster: its own Python and xgboost unpickle it.
    loaded = run_in_image(
        XGBOOST_1_0_1,
        "import pickle, sys, xgboost\n"
        "booster = pickle.load(open(sys.argv[1], 'rb'))\n"
        "print(type(booster).__name__, xgboost.__version__)",
        str(path),
    )
    # (xgboost 1.0 prints its reg:linear deprecation warning on stdout first)
    assert loaded.splitlines()[-1].split() == ["Booster", "1.0.0"]


def test_1_7_1_refuses_silent_as_its_container_does(aws, bucket, tiny_prefix) -> None:
    hyperparameters = {"num_round": "5", "silent": "0", "objective": "reg:squarederror"}
    job = train(aws, bucket, tiny_prefix, hyperparameters, XGBOOST_1_7_1)
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("ClientError: Extraneous hyperparameter found: silent."), reason
    assert "verbosity" in reason  # the accepted names follow


def test_1_7_1_trains_reg_linear_and_writes_a_native_model(
    aws, bucket, tiny_prefix, tmp_path
) -> None:
    job = train(
        aws, bucket, tiny_prefix, {"num_round": "5", "objective": "reg:linear"}, XGBOOST_1_7_1
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    path = model_file(aws, job, tmp_path)
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle
    # Booster.save_model("xgboost-model") of xgboost 1.7: its binary format, loaded natively.
    rounds = run_in_image(
        XGBOOST_1_7_1,
        "import sys, xgboost\n"
        "booster = xgboost.Booster()\n"
        "booster.load_model(sys.argv[1])\n"
        "print(len(booster.get_dump()))",
        str(path),
    )
    assert rounds.splitlines()[-1] == "5"


@pytest.mark.parametrize(
    ("image", "change", "reason"),
    [
        # mape joined the metric list in 1.3-1; reg:absoluteerror the objectives in 1.7-1.
        (XGBOOST_1_0_1, {"eval_metric": "mape"}, "Hyperparameter eval_metric: 'mape' is not"),
        (XGBOOST_1_0_1, {"objective": "reg:absoluteerror"}, "Hyperparameter objective: "),
        (XGBOOST_1_0_1, {"tree_method": "gpu_hist"}, "GPU training is not supported yet."),
    ],
)
def test_each_version_validates_as_its_container(
    aws, bucket, tiny_prefix, image: str, change: dict, reason: str
) -> None:
    job = train(aws, bucket, tiny_prefix, {"num_round": "2", **change}, image)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"ClientError: {reason}"), job["FailureReason"]


# What SDK 2's EstimatorBase._prepare_init_params_from_job_description (Estimator.attach)
# reads from DescribeTrainingJob without a default: a KeyError there fails attach.
ATTACH_READS = (
    ("RoleArn",),
    ("ResourceConfig", "InstanceCount"),
    ("ResourceConfig", "InstanceType"),
    ("ResourceConfig", "VolumeSizeInGB"),
    ("StoppingCondition", "MaxRuntimeInSeconds"),
    ("AlgorithmSpecification", "TrainingInputMode"),
    ("TrainingJobName",),
    ("OutputDataConfig", "S3OutputPath"),
    ("OutputDataConfig", "KmsKeyId"),
    ("ModelArtifacts", "S3ModelArtifacts"),
)


def test_a_completed_training_job_is_described_as_the_service_fills_it_in(
    aws, trained_model
) -> None:
    job = trained_model.model_data_url.split("/")[-3]
    described = aws("sagemaker").describe_training_job(TrainingJobName=job)
    for path in ATTACH_READS:
        value = described
        for key in path:
            assert key in value, f"DescribeTrainingJob lacks {'.'.join(path)}"
            value = value[key]
    assert described["OutputDataConfig"]["KmsKeyId"] == ""
    assert described["OutputDataConfig"]["CompressionType"] == "GZIP"
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 600  # as requested
    assert described["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is False
    for flag in (
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ):
        assert described[flag] is False
    channel = described["InputDataConfig"][0]
    assert channel["CompressionType"] == "None" and channel["RecordWrapperType"] == "None"
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["BillableTimeInSeconds"] >= 1
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert statuses[0] == "Starting" and statuses[-1] == "Completed"


def test_sdk3_reads_a_completed_training_job(aws, emulator, trained_model) -> None:
    import boto3
    from sagemaker.core.resources import TrainingJob

    job = trained_model.model_data_url.split("/")[-3]
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    original = session.client

    def client(service, *args, **kwargs):  # every client of this session: the emulator's
        return original(service, *args, **{**kwargs, "endpoint_url": emulator.url})

    session.client = client
    training_job = TrainingJob.get(training_job_name=job, session=session)
    assert training_job.training_job_status == "Completed"
    assert training_job.output_data_config.kms_key_id == ""
    assert training_job.stopping_condition.max_runtime_in_seconds == 600
    assert training_job.model_artifacts.s3_model_artifacts == trained_model.model_data_url


def test_a_stopped_job_keeps_the_model_its_algorithm_saved_and_its_metrics(
    aws, bucket, data_prefix, emulator
) -> None:
    """SIGTERM's grace, as SageMaker gives it: the built-in algorithm with
    save_model_on_termination keeps the last round's model, which the stopped job uploads."""
    name = f"stopped-{uuid.uuid4().hex[:8]}"
    hyperparameters = {
        **DAG_DEFAULT_HYPERPARAMETERS,
        "num_round": "100000",
        "eta": "0.01",
        "save_model_on_termination": "true",
    }
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(**training_request(name, bucket, data_prefix, hyperparameters))
    log_file = emulator.engine.local_path("jobs", "training", name, "job.log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log_file.exists() and "\n[3]\t" in log_file.read_text(errors="replace"):
            break
        time.sleep(0.1)
    sagemaker.stop_training_job(TrainingJobName=name)
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )
    assert job["TrainingJobStatus"] == "Stopped"
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {
        "train:logloss",
        "validation:logloss",
    }
    key = job["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.getnames() == ["xgboost-model"]
