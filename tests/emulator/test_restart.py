"""Durable state: SIGKILL the emulator, start it again on the same data dir, find everything.

These tests run the emulator as a child process (emulator/process.py), the way `make run` and
`make airflow` do, because a SIGKILL must hit a whole process, not a thread of the test's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.data_dir import DataDirInUse, holder
from emulator.process import EmulatorProcess
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.jobs import namespace_mode_available
from tests.conftest import ROLE, XGBOOST_IMAGE, emulator_client, processing_request, wait_for
from tests.emulator.test_model_registry import register

BUCKET = "durable"


def sleeping_job(name: str) -> dict[str, Any]:
    return processing_request(name, ["sleep", "600"])


def kill_hard(emulator: EmulatorProcess) -> None:
    process = emulator._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    emulator._process = None


def test_everything_survives_sigkill_and_running_work_comes_back_failed(tmp_path: Path) -> None:
    data_dir = tmp_path / "account"
    payload = os.urandom(3 * 1024 * 1024)
    first = EmulatorProcess(data_dir, log_path=tmp_path / "first.log").start()
    try:
        s3, sagemaker = emulator_client(first.url, "s3"), emulator_client(first.url, "sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="big/object.bin", Body=payload)
        etag = s3.head_object(Bucket=BUCKET, Key="big/object.bin")["ETag"]
        sagemaker.create_model(
            ModelName="durable-model",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"},
            Tags=[{"Key": "team", "Value": "ml"}],
        )
        sagemaker.create_model_package_group(ModelPackageGroupName="durable-group")
        first_version = register(sagemaker, "durable-group", 0.86)
        register(sagemaker, "durable-group", 0.87)
        sagemaker.update_model_package(
            ModelPackageArn=first_version, ModelApprovalStatus="Approved"
        )
        sagemaker.create_processing_job(**sleeping_job("running-at-crash"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # started: the job's process exists
            job = sagemaker.describe_processing_job(ProcessingJobName="running-at-crash")
            assert job["ProcessingJobStatus"] == "InProgress"
            if (data_dir / "jobs" / "processing" / "running-at-crash").exists():
                break
            time.sleep(0.1)
    finally:
        kill_hard(first)

    # The kernel lets go of the lock with the process: no one removes the file. A child the
    # emulator was forking at the instant of the SIGKILL shares the lock's open file until it
    # execs (the lock is close-on-exec), which on a loaded machine can be a few milliseconds
    # after the emulator is reaped.
    deadline = time.monotonic() + 10
    while holder(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder(data_dir) is None
    with EmulatorProcess(data_dir, log_path=tmp_path / "second.log") as second:
        s3, sagemaker = emulator_client(second.url, "s3"), emulator_client(second.url, "sagemaker")
        body = s3.get_object(Bucket=BUCKET, Key="big/object.bin")
        assert body["ETag"] == etag
        assert body["Body"].read() == payload

        model = sagemaker.describe_model(ModelName="durable-model")
        tags = sagemaker.list_tags(ResourceArn=model["ModelArn"])["Tags"]
        assert tags == [{"Key": "team", "Value": "ml"}]

        versions = sagemaker.list_model_packages(ModelPackageGroupName="durable-group")[
            "ModelPackageSummaryList"
        ]
        assert sorted(v["ModelPackageVersion"] for v in versions) == [1, 2]
        approved = sagemaker.describe_model_package(ModelPackageName=first_version)
        assert approved["ModelApprovalStatus"] == "Approved"
        # The registry goes on numbering where it stopped.
        assert register(sagemaker, "durable-group", 0.88).endswith("/3")

        job = sagemaker.describe_processing_job(ProcessingJobName="running-at-crash")
        assert job["ProcessingJobStatus"] == "Failed"
        assert "emulator stopped while this job was running" in job["FailureReason"]
        assert job["ProcessingEndTime"] >= job["CreationTime"]


def test_a_second_emulator_on_a_data_dir_in_use_refuses_naming_the_first(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, log_path=tmp_path / "first.log") as first:
        with pytest.raises(DataDirInUse, match=rf"pid {first._process.pid}"):
            Engine(tmp_path)
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "in use by another emulator" in result.stderr
        assert first.url in result.stderr


def test_make_run_joins_the_emulator_that_serves_the_account(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, log_path=tmp_path / "first.log") as first:
        joined = EmulatorProcess(tmp_path).start()
        assert joined.joined and joined.url == first.url
        joined.stop()  # leaves the first one serving
        emulator_client(first.url, "s3").list_buckets()


def test_an_emulator_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    # The parent plays `make run`: it starts an emulator, prints its pid, then waits.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from emulator.process import EmulatorProcess; "
            f"e = EmulatorProcess({str(tmp_path)!r}).start(); "
            "print(e._process.pid, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert parent.stdout is not None
    emulator_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pid_alive(emulator_pid):
        time.sleep(0.1)
    assert not pid_alive(emulator_pid)
    assert holder(tmp_path) is None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_serve_with_its_defaults_runs_a_job(tmp_path: Path) -> None:
    """`python -m emulator serve` exactly as the README shows it: a relative --data-dir, which
    a job in a mount namespace (where available) once read relative to its own sandbox."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "EMULATOR_SANDBOX_MODE": "namespace" if namespace_mode_available() else "rewrite",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]  # a log line, then the ready one
        assert "emulator ready at http://127.0.0.1:4588" in lines[-1], lines
        url = "http://127.0.0.1:4588"
        s3, sagemaker = emulator_client(url, "s3"), emulator_client(url, "sagemaker")
        s3.create_bucket(Bucket="defaults")
        request = sleeping_job("defaults-job")
        request["AppSpecification"]["ContainerEntrypoint"] = [
            "sh",
            "-c",
            "mkdir -p /opt/ml/processing/output && echo ok > /opt/ml/processing/output/ok.txt",
        ]
        request["ProcessingOutputConfig"] = {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": "s3://defaults/out",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        }
        sagemaker.create_processing_job(**request)
        job = wait_for(
            lambda: sagemaker.describe_processing_job(ProcessingJobName="defaults-job"),
            "ProcessingJobStatus",
        )
        assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
        assert s3.get_object(Bucket="defaults", Key="out/ok.txt")["Body"].read() == b"ok\n"
        assert (tmp_path / ".local" / "emulator" / "sagemaker.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
