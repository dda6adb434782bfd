"""No stuck jobs, no orphan processes: Stop, the end of a job and the emulator's death (SIGKILL
included) take every process a job or a model-server worker started, ``setsid`` daemons too;
a job that fails while being set up ends Failed, never InProgress.

Processes are found by a unique marker in their command line, read from the host's /proc: in
namespace mode a job sees its own PID namespace, so a pid it reports would not be a host pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from emulator.process import EmulatorProcess
from emulator.sagemaker import hosting, jobs
from tests.conftest import (
    CODE_DIR,
    ROLE,
    XGBOOST_IMAGE,
    emulator_client,
    one_variant,
    processing_input,
    script_request,
    tar_bytes,
    wait_for,
)
from tests.emulator.test_endpoints import wait_for_endpoint
from tests.emulator.test_processing_jobs import describe, job_py_with, start
from tests.emulator.test_transform_jobs import transform

MODES = ["namespace", "rewrite"]

# The job: a daemon that leaves the job's session and process group (what `setsid` does), then
# the job sleeps. argv: marker, and a file to write "TERM" to when it gets SIGTERM ("-": none;
# then SIGTERM kills it). With a file it ignores SIGTERM after noting it, so only the kill
# after the grace period ends it.
DAEMON_JOB = b"""
import signal, subprocess, sys, time
marker, note = sys.argv[1], sys.argv[2]
subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(300)", marker + ":grandchild"],
    start_new_session=True,
)
if note != "-":
    def noted(signum, frame):
        with open(note, "w") as handle:
            handle.write("TERM")
    signal.signal(signal.SIGTERM, noted)
print("daemon started", flush=True)
while True:
    time.sleep(300)
"""


def live_pids(marker: str) -> list[int]:
    """Host pids of processes (zombies excepted) whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in command and state != "Z":
            found.append(int(entry))
    return found


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def use_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    if mode == "namespace" and not jobs.namespace_mode_available():
        pytest.skip("this machine refuses namespaces")
    monkeypatch.setenv("EMULATOR_SANDBOX_MODE", mode)


def start_daemon_job(aws, bucket: str, marker: str, note: str = "-") -> str:
    name = start(
        aws,
        bucket,
        DAEMON_JOB,
        AppSpecification=job_py_with(marker, note),
    )
    wait_until(lambda: live_pids(f"{marker}:grandchild"), 60, "the job's daemon to start")
    return name


@pytest.mark.parametrize("mode", MODES)
def test_stop_kills_the_job_and_its_setsid_daemon(aws, bucket, monkeypatch, mode) -> None:
    use_mode(monkeypatch, mode)
    marker = uuid.uuid4().hex
    name = start_daemon_job(aws, bucket, marker)
    assert len(live_pids(marker)) >= 2  # the job and its daemon (and the init, unshare)
    aws("sagemaker").stop_processing_job(ProcessingJobName=name)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert job["FailureReason"] == job["ExitMessage"] == "Stopped by request"
    wait_until(lambda: not live_pids(marker), 10, "every process of the job to be gone")


@pytest.mark.parametrize("mode", MODES)
def test_a_job_ignoring_sigterm_gets_it_then_is_killed_after_the_grace_period(
    aws, bucket, monkeypatch, tmp_path, mode
) -> None:
    use_mode(monkeypatch, mode)
    monkeypatch.setattr(jobs, "STOP_GRACE_S", 0.5)
    marker, note = uuid.uuid4().hex, tmp_path / "term"
    name = start_daemon_job(aws, bucket, marker, str(note))
    aws("sagemaker").stop_processing_job(ProcessingJobName=name)
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert note.read_text() == "TERM"  # SIGTERM first, through the init
    wait_until(lambda: not live_pids(marker), 10, "every process of the job to be gone")


@pytest.mark.parametrize("mode", MODES)
def test_a_job_that_ends_takes_its_daemon_along(aws, bucket, monkeypatch, mode) -> None:
    use_mode(monkeypatch, mode)
    marker = uuid.uuid4().hex
    script = DAEMON_JOB.replace(b"while True:\n    time.sleep(300)", b"sys.exit(0)")
    name = start(
        aws,
        bucket,
        script,
        AppSpecification=job_py_with(marker, "-"),
    )
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    wait_until(lambda: not live_pids(marker), 10, "the daemon to be gone")


def test_kill_marked_finds_a_process_by_its_token_alone() -> None:
    """Rewrite mode's last resort: a process outside the group, found by its environment."""
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        env={**os.environ, jobs.TOKEN_VARIABLE: token},
        start_new_session=True,
    )
    try:
        wait_until(lambda: process.pid in jobs.marked_processes(token), 10, "its environment")
        jobs.kill_marked(token, popen_pids=[process.pid])
        assert process.wait(timeout=10) == -signal.SIGKILL
        assert jobs.marked_processes(token) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- jobs failing while being set up --------------------------------------------------------
def broken(gate: threading.Event | None = None) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        if gate is not None:
            gate.wait(timeout=30)
        raise RuntimeError("disk on fire")

    return fail


def test_processing_job_failing_in_set_up_ends_failed_and_cannot_be_stopped(
    aws, bucket, monkeypatch
) -> None:
    monkeypatch.setattr(jobs, "sandbox_for", broken())
    name = start(aws, bucket, b"print('never runs')\n")
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "InternalServerError: emulator error: disk on fire"
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    with pytest.raises(ClientError) as refused:
        aws("sagemaker").stop_processing_job(ProcessingJobName=name)
    assert "status Failed" in refused.value.response["Error"]["Message"]


def test_a_stop_during_set_up_returns_at_once_and_the_job_still_ends(
    aws, bucket, monkeypatch
) -> None:
    gate = threading.Event()
    monkeypatch.setattr(jobs, "sandbox_for", broken(gate))
    sagemaker = aws("sagemaker")
    name = start(aws, bucket, b"print('never runs')\n")
    wait_until(
        lambda: "ProcessingStartTime" in sagemaker.describe_processing_job(ProcessingJobName=name),
        30,
        "the job to be picked up",
    )
    began = time.monotonic()
    sagemaker.stop_processing_job(ProcessingJobName=name)
    assert time.monotonic() - began < 2
    status = sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
    assert status == "Stopping"
    gate.set()
    job = describe(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "disk on fire" in job["FailureReason"]


def test_training_job_failing_in_set_up_ends_failed(aws, bucket, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "sandbox_for", broken())
    sagemaker = aws("sagemaker")
    name = f"train-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{name}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "InternalServerError: emulator error: disk on fire"
    assert job["SecondaryStatus"] == "Failed"
    assert job["SecondaryStatusTransitions"][-1]["Status"] == "Failed"


def test_transform_job_failing_in_set_up_ends_failed(aws, bucket, monkeypatch) -> None:
    monkeypatch.setattr(hosting, "prepare_model", broken())
    model = f"model-{uuid.uuid4().hex[:8]}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/{model}/m"}
    aws("sagemaker").create_model(
        ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer=container
    )
    job = transform(aws, model, f"s3://{bucket}/{model}/in", f"s3://{bucket}/{model}/out")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == "InternalServerError: emulator error: disk on fire"


# --- model-server workers -------------------------------------------------------------------
def tiny_model_archive() -> bytes:
    """A two-tree booster on three features, as model.tar.gz: enough to be served."""
    features = np.random.default_rng(0).random((40, 3))
    booster = xgb.train(
        {"objective": "binary:logistic"},
        xgb.DMatrix(features, label=(features[:, 0] > 0.5).astype(float)),
        num_boost_round=2,
    )
    return tar_bytes({"xgboost-model": bytes(booster.save_raw("json"))})


def create_endpoint(sagemaker, s3, bucket: str, name: str) -> None:
    s3.put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=tiny_model_archive())
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/{name}/model.tar.gz",
        },
    )
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=one_variant(name))
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    status = wait_for_endpoint(sagemaker, name)["EndpointStatus"]
    assert status == "InService", sagemaker.describe_endpoint(EndpointName=name)


def test_workers_outlive_the_thread_that_started_them_and_die_with_the_endpoint(
    aws, bucket
) -> None:
    sagemaker = aws("sagemaker")
    name = f"ep-{uuid.uuid4().hex[:8]}"
    create_endpoint(sagemaker, aws("s3"), bucket, name)
    # The worker was started while deploying, on behalf of a thread that has ended by now: a
    # parent-death signal tied to that thread would have killed it.
    wait_until(
        lambda: all(t.name != f"deploy-{name}" for t in threading.enumerate()),
        30,
        "the deploy thread to end",
    )
    workers = live_pids(name)
    assert workers, "no model-server worker found"
    answer = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=b"0.9,0.1,0.1\n", ContentType="text/csv"
    )
    assert answer["Body"].read().strip()
    sagemaker.delete_endpoint(EndpointName=name)
    wait_until(lambda: not live_pids(name), 15, "the endpoint's workers to be gone")


# --- the emulator SIGKILLed -----------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_sigkill_of_the_emulator_leaves_no_job_or_worker_behind(
    tmp_path, monkeypatch, mode
) -> None:
    use_mode(monkeypatch, mode)  # the child emulator inherits the environment
    emulator = EmulatorProcess(tmp_path / "data", max_jobs=2).start()
    process = emulator._process  # the test needs its pid to SIGKILL it
    assert process is not None
    try:
        s3 = emulator_client(emulator.url, "s3")
        sagemaker = emulator_client(emulator.url, "sagemaker")
        bucket, marker = "sigkill", uuid.uuid4().hex
        s3.create_bucket(Bucket=bucket)
        endpoint = f"ep-{marker[:8]}"
        create_endpoint(sagemaker, s3, bucket, endpoint)
        assert live_pids(endpoint), "no model-server worker found"
        s3.put_object(Bucket=bucket, Key="job/in/a.txt", Body=b"alpha")
        s3.put_object(Bucket=bucket, Key="job/code/job.py", Body=DAEMON_JOB)
        code = processing_input("code", f"s3://{bucket}/job/code/job.py", CODE_DIR)
        job = script_request("job", "job.py", inputs=[code])
        job["AppSpecification"] = job_py_with(marker, "-")
        sagemaker.create_processing_job(**job)
        wait_until(lambda: live_pids(f"{marker}:grandchild"), 60, "the job's daemon to start")
        assert len(live_pids(marker)) >= 2
        seen = live_pids(marker) + live_pids(endpoint)
    finally:
        process.kill()  # SIGKILL: no handler, no shutdown, nothing of the emulator runs
        process.wait()
    wait_until(lambda: not live_pids(marker), 10, "the job's processes to die with the emulator")
    wait_until(lambda: not live_pids(endpoint), 10, "the workers to die with the emulator")
    # The in-process emulator made this process a child subreaper: what the dead emulator had
    # started is now ours to reap (never a Popen of ours: they were the emulator's children).
    for pid in seen:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_concurrent_first_jobs_agree_on_the_sandbox_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Jobs start on several threads; a probe that raced another once decided "rewrite" for the
    # whole process, and scripts then wrote to the host's /opt/ml.
    from concurrent.futures import ThreadPoolExecutor

    from emulator.sagemaker import jobs

    if jobs.probe_namespace_options() is None:
        pytest.skip("no mount namespaces on this machine")
    monkeypatch.setattr(jobs, "_probed", [])
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: jobs.namespace_options(), range(6)))
    assert all(answer is not None for answer in answers)
    assert len(set(answers)) == 1
