"""The same DAG run, run twice against one emulator: the second run re-executes every task
under the same run id and creates no job, model or model version (attach-or-create); and a run
killed right after CreateTrainingJob, run again, re-attaches to that one training job."""

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

from emulator.process import EmulatorProcess
from tools.offline import (
    OFFLINE_BUCKET,
    aws_client,
    ensure_airflow_db,
    offline_environment,
    seed_input,
)

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


def test_rerunning_the_same_run_creates_nothing_new(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "emulator", log_path=tmp_path / "emulator.log") as emulator:
        env = offline_environment(emulator.url, tmp_path / "airflow")
        ensure_airflow_db(env)
        seed_input(emulator.url, DATE)
        command = dag_test_command(RUN_AFTER)
        outputs = []
        for _ in range(2):
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
            outputs.append(done.stdout + done.stderr)
            assert done.returncode == 0, outputs[-1][-3000:]
            if len(outputs) == 1:
                first = inventory(emulator.url)
        second = inventory(emulator.url)
        summaries = [
            json.loads(
                aws_client("s3", emulator.url)
                .get_object(Bucket=OFFLINE_BUCKET, Key=item["Key"])["Body"]
                .read()
            )
            for item in aws_client("s3", emulator.url).list_objects_v2(Bucket=OFFLINE_BUCKET)[
                "Contents"
            ]
            if item["Key"].endswith("/summary.json")
        ]
    assert second == first
    assert len(first["training"]) == 1 and len(first["processing"]) == 2
    assert len(first["models"]) == 1 and len(first["versions"]) == 1
    assert [s["run_id"] for s in summaries] == [f"manual__{RUN_AFTER}"]
    assert summaries[0]["decision"] == "registered"
    rerun = outputs[1]
    assert "already completed: reusing it" in rerun
    assert "already exists: reusing it" in rerun
    assert "is already registered as" in rerun


def test_a_run_killed_after_create_training_job_reattaches_when_run_again(
    tmp_path: Path,
) -> None:
    run_after = "2026-11-10T07:00:00+00:00"
    with EmulatorProcess(tmp_path / "emulator", log_path=tmp_path / "emulator.log") as emulator:
        env = offline_environment(emulator.url, tmp_path / "airflow")
        ensure_airflow_db(env)
        seed_input(emulator.url, DATE)
        sagemaker = aws_client("sagemaker", emulator.url)
        log = (tmp_path / "killed.log").open("w")
        doomed = subprocess.Popen(
            dag_test_command(run_after),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while not sagemaker.list_training_jobs()["TrainingJobSummaries"]:
            assert doomed.poll() is None, "the run ended before it created its training job"
            assert time.monotonic() < deadline, "no training job was created"
            time.sleep(0.1)
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker, mid-task, with the job just created
        doomed.wait()
        log.close()
        again = subprocess.run(
            dag_test_command(run_after), env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
        jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs) == 1 and jobs[0]["TrainingJobStatus"] == "Completed"
    output = again.stdout + again.stderr
    # the retried train task found its job: attached to it, or reused it if it had finished
    assert re.search(
        r"Training job \S+ (is already running: waiting|already completed: reusing)", output
    )
