"""One DAG run, killed right after CreateTrainingJob and run again, re-attaches to that one
training job and finishes; run a third time under the same run id, it re-executes every task
and creates no job, model or model version (attach-or-create)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.offline_account import OfflineAccount
from tools.offline import OFFLINE_BUCKET, aws_client, seed_input

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DATE = "2026-11-10"
RUN_AFTER = "2026-11-10T06:00:00+00:00"


def inventory(url: str) -> dict[str, list[str]]:
    sagemaker = aws_client("sagemaker", url)
    return {
        "processing": sorted(
            j["ProcessingJobName"]
            for j in sagemaker.list_processing_jobs(MaxResults=100)["ProcessingJobSummaries"]
        ),
        "training": sorted(
            j["TrainingJobName"]
            for j in sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        ),
        "models": sorted(m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]),
        "versions": sorted(
            p["ModelPackageArn"]
            for p in sagemaker.list_model_packages(
                ModelPackageGroupName="adult-income-xgboost", MaxResults=100
            )["ModelPackageSummaryList"]
        ),
    }


def dag_test_command(run_after: str) -> list[str]:
    command = [sys.executable, "-m", "tools.dag_test", "adult_income_pipeline", DATE]
    return [*command, "--run-after", run_after]


def test_a_killed_run_reattaches_and_a_rerun_creates_nothing_new(account: OfflineAccount) -> None:
    env = account.environment()
    seed_input(account.emulator_url, DATE)
    sagemaker = account.client("sagemaker")
    command = dag_test_command(RUN_AFTER)
    with (account.state_dir / "killed.log").open("w") as log:
        doomed = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while not sagemaker.list_training_jobs()["TrainingJobSummaries"]:
            assert doomed.poll() is None, "the run ended before it created its training job"
            assert time.monotonic() < deadline, "no training job was created"
            time.sleep(0.1)
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker, mid-task, with the job just created
        doomed.wait()
    outputs = []
    for _ in range(2):
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, outputs[-1][-3000:]
        if len(outputs) == 1:
            first = inventory(account.emulator_url)
    second = inventory(account.emulator_url)
    # The run again: its train task found the killed run's job, attached to it (or reused it,
    # had it finished meanwhile), and finished the run with it.
    assert re.search(
        r"Training job \S+ (is already running: waiting|already completed: reusing)", outputs[0]
    )
    jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs) == 1 and jobs[0]["TrainingJobStatus"] == "Completed"
    # The third time: nothing new, every task reused what the run had made.
    assert second == first
    assert len(first["training"]) == 1 and len(first["processing"]) == 2
    assert len(first["models"]) == 1 and len(first["versions"]) == 1
    s3 = aws_client("s3", account.emulator_url)
    summaries = [
        json.loads(s3.get_object(Bucket=OFFLINE_BUCKET, Key=item["Key"])["Body"].read())
        for item in s3.list_objects_v2(Bucket=OFFLINE_BUCKET)["Contents"]
        if item["Key"].endswith("/summary.json")
    ]
    assert [s["run_id"] for s in summaries] == [f"manual__{RUN_AFTER}"]
    assert summaries[0]["decision"] == "registered"
    rerun = outputs[1]
    assert "already completed: reusing it" in rerun
    assert "already exists: reusing it" in rerun
    assert "is already registered as" in rerun
