"""Training jobs: the built-in XGBoost algorithm on preprocess.py's output, evaluated by
evaluate.py as a processing job; hyperparameter checks; the provider's operators."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
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
from tests.emulator.clients.client_support import write_wheel

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


# --- the training toolkits' contract (sagemaker-training, sagemaker-containers) -------------
SKLEARN_1_2_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def source_archive(files: dict[str, bytes | str]) -> bytes:
    """sourcedir.tar.gz of ``files`` (name -> content), as the SDK uploads a source dir."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()


def toolkit_job(
    aws,
    bucket: str,
    data_prefix: str,
    files: dict[str, bytes | str],
    program: str,
    image: str,
    hyperparameters: dict[str, str] | None = None,
) -> dict:
    """A script-mode job of ``program`` from a source dir of ``files``; its final description."""
    name = f"toolkit-{uuid.uuid4().hex[:8]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/sourcedir.tar.gz", Body=source_archive(files))
    request = training_request(
        name,
        bucket,
        data_prefix,
        {
            **(hyperparameters or {}),
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{name}/sourcedir.tar.gz"),
        },
        image,
    )
    request["InputDataConfig"] = request["InputDataConfig"][:1]
    aws("sagemaker").create_training_job(**request)
    return wait_for(
        lambda: aws("sagemaker").describe_training_job(TrainingJobName=name),
        "TrainingJobStatus",
        timeout=300,
    )


def model_json(aws, bucket: str, job: dict, member: str = "seen.json") -> Any:
    """``member`` of the job's model.tar.gz, parsed as JSON."""
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return json.load(tar.extractfile(member))


# What an entry point sees: its arguments, the SM_* variables, how it was run, the config files.
RECORD_WHAT_IT_SEES = """
import json, os, sys
seen = {
    "argv": sys.argv[1:],
    "as_module": __spec__ is not None,
    "cwd": os.getcwd(),
    "python": list(sys.version_info[:2]),
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_")},
    "inputdataconfig": json.load(open("/opt/ml/input/config/inputdataconfig.json")),
    "resourceconfig": json.load(open("/opt/ml/input/config/resourceconfig.json")),
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as handle:
    json.dump(seen, handle)
"""
# The SDK JSON-encodes every hyperparameter: None arrives as "null".
TOOLKIT_HYPERPARAMETERS = {
    "epochs": "3",
    "source_dir": "null",
    "flag": "true",
    "lr": "0.1",
    "x": '"short"',
    "layers": "[1, 2]",
    "raw": "not json",
}


@pytest.mark.parametrize(
    ("image", "as_module", "python"),
    [
        # sagemaker-training runs a .py program as a script; sagemaker-containers as a module.
        (SKLEARN_1_2_1, False, [3, 9]),
        (XGBOOST_IMAGE, True, [3, 9]),
    ],
)
def test_hyperparameters_and_sm_variables_arrive_as_the_toolkit_passes_them(
    aws, bucket, data_prefix, image: str, as_module: bool, python: list[int]
) -> None:
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {"train.py": RECORD_WHAT_IT_SEES},
        "train.py",
        image,
        TOOLKIT_HYPERPARAMETERS,
    )
    seen = model_json(aws, bucket, job)
    # Sorted by name, "-x" for one letter, null empty, True as Python writes it, a list by str().
    assert seen["argv"] == [
        "--epochs", "3", "--flag", "True", "--layers", "[1, 2]", "--lr", "0.1",
        "--raw", "not json", "--source_dir", "", "-x", "short",
    ]  # fmt: skip
    assert seen["as_module"] is as_module
    assert seen["cwd"] == "/opt/ml/code"
    assert seen["python"] == python
    env = seen["env"]
    assert env["SM_HP_SOURCE_DIR"] == ""  # null: empty, not "None"
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_HP_FLAG"] == "true"  # JSON, compact
    assert env["SM_HP_LAYERS"] == "[1,2]"
    assert env["SM_HP_X"] == "short"
    assert json.loads(env["SM_HPS"])["source_dir"] is None
    assert "sagemaker_program" not in json.loads(env["SM_HPS"])
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_MODULE_DIR"].startswith(f"s3://{bucket}/") and env["SM_MODULE_DIR"].endswith(
        "/sourcedir.tar.gz"
    )
    assert env["SM_CHANNELS"] == '["train"]'
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_USER_ARGS"]) == seen["argv"]
    assert json.loads(env["SM_TRAINING_ENV"])["hyperparameters"]["epochs"] == 3
    assert seen["inputdataconfig"] == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
            "ContentType": "text/csv",  # only because the channel names one
        }
    }
    assert seen["resourceconfig"]["hosts"] == ["algo-1"]
    assert seen["resourceconfig"]["current_instance_type"] == "ml.m5.large"


def test_a_source_dir_with_setup_py_runs_as_a_package_in_the_scikit_learn_image(
    aws, bucket, data_prefix
) -> None:
    setup = "from setuptools import setup\nsetup(name='mine', py_modules=['train'])\n"
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {"train.py": RECORD_WHAT_IT_SEES, "setup.py": setup},
        "train.py",
        SKLEARN_1_2_1,
    )
    assert model_json(aws, bucket, job)["as_module"] is True


SHELL_ENTRY_POINT = """#!/bin/sh
set -e
python record.py "$@"
"""
RECORD_FROM_SHELL = """
import json, os, sys
seen = {"python": list(sys.version_info[:2]), "argv": sys.argv[1:], "cwd": os.getcwd(),
        "hp": os.environ["SM_HP_MESSAGE"]}
json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""


def test_a_shell_entry_point_runs_with_sh_from_the_code_dir_and_the_images_python(
    aws, bucket, data_prefix
) -> None:
    # What SDK 2's RepackModel step runs: _repack_script_launcher.sh, which calls `python`.
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {"launch.sh": SHELL_ENTRY_POINT, "record.py": RECORD_FROM_SHELL},
        "launch.sh",
        SKLEARN_1_2_1,
        {"message": json.dumps("two words")},
    )
    seen = model_json(aws, bucket, job)
    assert seen == {
        "python": [3, 9],  # sagemaker-scikit-learn:1.2-1's Python, not the emulator's 3.11
        "argv": ["--message", "two words"],  # quoted for the shell, one argument each
        "cwd": "/opt/ml/code",
        "hp": "two words",
    }


def tiny_wheel(name: str, source: str) -> bytes:
    """A pure-Python wheel of one module ``name``: installable with no index at all (the SDK
    clients' own helper, which writes it to a directory)."""
    with tempfile.TemporaryDirectory() as directory:
        wheel = write_wheel(directory, name, source)
        return (Path(directory) / wheel).read_bytes()


USES_ITS_REQUIREMENT = """
import json, os, sys
import toolkit_dep_probe, numpy
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as handle:
    json.dump({"value": toolkit_dep_probe.VALUE, "from": toolkit_dep_probe.__file__}, handle)
"""


@pytest.mark.parametrize("image", [SKLEARN_1_2_1, XGBOOST_IMAGE])
def test_requirements_txt_is_installed_for_the_job_alone(
    aws, bucket, data_prefix, image: str
) -> None:
    wheel = "toolkit_dep_probe-1.0-py3-none-any.whl"
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {
            "train.py": USES_ITS_REQUIREMENT,
            # numpy is in the image already (satisfied, not fetched); the wheel is not.
            "requirements.txt": f"numpy\n./{wheel}\n",
            wheel: tiny_wheel("toolkit_dep_probe", "VALUE = 42\n"),
        },
        "train.py",
        image,
    )
    seen = model_json(aws, bucket, job)
    assert seen["value"] == 42
    # The shared image environment, which every later job starts from, is unchanged.
    python = environments.environment_for(image).python
    probe = subprocess.run(
        [python, "-c", "import toolkit_dep_probe"], capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0 and "No module named 'toolkit_dep_probe'" in probe.stderr


def test_a_requirement_that_cannot_be_installed_fails_the_job_before_the_entry_point(
    aws, bucket, data_prefix
) -> None:
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {"train.py": "raise SystemExit('must not run')\n", "requirements.txt": "./missing.whl\n"},
        "train.py",
        SKLEARN_1_2_1,
    )
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: InstallRequirementsError:\nExitCode 1\n"), reason
    assert "must not run" not in reason


def test_a_shell_entry_point_leaves_requirements_txt_alone(aws, bucket, data_prefix) -> None:
    """sagemaker-training installs requirements.txt for a Python script or package only (its
    entry_point.install): SDK 2's RepackModel step runs a .sh launcher so that a model's
    inference requirements are repacked with it, not installed in the repacking job."""
    job = toolkit_job(
        aws,
        bucket,
        data_prefix,
        {
            "launch.sh": SHELL_ENTRY_POINT,
            "record.py": RECORD_FROM_SHELL,
            # Installed, this would fail the job: the wheel is not there.
            "requirements.txt": "./missing.whl\n",
        },
        "launch.sh",
        SKLEARN_1_2_1,
        {"message": json.dumps("repack")},
    )
    assert model_json(aws, bucket, job)["hp"] == "repack"


# Writes SageMaker's failure file, then dies of something else.
SCRIPT_MODE_FAILURE = """
import os
with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as handle:
    handle.write("Exception during training: channel train has no label column")
raise RuntimeError("cleanup failed")
"""


@pytest.mark.parametrize(
    ("image", "script", "lead"),
    [
        # sagemaker-training keeps a failure file the script wrote...
        (
            SKLEARN_1_2_1,
            SCRIPT_MODE_FAILURE,
            "AlgorithmError: Exception during training: channel train has no label column; "
            "exit code 1. ",
        ),
        # ... and else writes its own, with the script's exit code and command.
        (
            SKLEARN_1_2_1,
            "raise SystemExit(3)\n",
            'AlgorithmError: ExecuteUserScriptError:\nExitCode 3\nErrorMessage ""\nCommand "',
        ),
        # sagemaker-containers (the XGBoost images) writes its own over the script's.
        (XGBOOST_IMAGE, SCRIPT_MODE_FAILURE, 'AlgorithmError: ExecuteUserScriptError:\nCommand "'),
    ],
)
def test_a_failing_entry_point_fails_the_job_as_its_toolkit_reports_it(
    aws, bucket, data_prefix, image: str, script: str, lead: str
) -> None:
    job = toolkit_job(aws, bucket, data_prefix, {"train.py": script}, "train.py", image)
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(lead), reason
    assert "exit code 1" in reason  # the toolkit's own exit, whatever the script's was
    if "RuntimeError" in script:
        assert "RuntimeError: cleanup failed" in reason  # the log's last lines follow


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


def test_sdk2s_repack_model_step_runs_its_launcher_and_repacks(aws, bucket) -> None:
    """The training job SDK 2's _RepackModelStep creates: ``_repack_script_launcher.sh`` (which
    runs ``python _repack_model.py`` with the SM_HP_* values) in scikit-learn 1.2-1, the model
    archive in the ``training`` channel, ``dependencies`` and ``source_dir`` null. Run as a
    Python script it was a SyntaxError; with "None" for null it copied all of /opt/ml/code."""
    from tests.support.sdk2_environment import sdk2_python

    workflow = next(Path(sdk2_python()).parent.parent.glob("lib/python*/site-packages/sagemaker"))
    utils = (workflow / "workflow" / "_utils.py").read_text()
    launcher = utils.split('LAUNCH_REPACK_SCRIPT_CMD = """', 1)[1].split('"""', 1)[0]
    name = f"repack-{uuid.uuid4().hex[:8]}"
    model = io.BytesIO()
    with tarfile.open(fileobj=model, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"model"))
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/model/model.tar.gz", Body=model.getvalue())
    sources = {
        "_repack_script_launcher.sh": launcher,
        "_repack_model.py": (workflow / "workflow" / "_repack_model.py").read_text(),
        "inference.py": "def model_fn(model_dir):\n    return None\n",
        "unrelated.txt": "not part of the model",
    }
    aws("s3").put_object(
        Bucket=bucket, Key=f"{name}/sourcedir.tar.gz", Body=source_archive(sources)
    )
    request = training_request(name, bucket, f"{name}/model", {}, SKLEARN_1_2_1, ("training",))
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        f"s3://{bucket}/{name}/model/model.tar.gz"
    )
    request["HyperParameters"] = {
        "inference_script": json.dumps("inference.py"),
        "model_archive": json.dumps(f"s3://{bucket}/{name}/model/model.tar.gz"),
        "dependencies": "null",
        "source_dir": "null",
        "sagemaker_program": json.dumps("_repack_script_launcher.sh"),
        "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{name}/sourcedir.tar.gz"),
    }
    aws("sagemaker").create_training_job(**request)
    job = wait_for(
        lambda: aws("sagemaker").describe_training_job(TrainingJobName=name),
        "TrainingJobStatus",
        timeout=300,
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        members = sorted(m.name for m in tar.getmembers() if m.isfile())
    # Only the inference script joins the model: a null source_dir is not the text "None".
    assert members == ["code/inference.py", "xgboost-model"]
