"""The Amazon provider's own SageMaker example DAGs, run offline through `airflow dags test`.

The DAGs in tests/provider_dags/system/amazon/aws/ are the system tests of
apache-airflow-providers-amazon 9.39.0 (the pinned provider), copied from its source
distribution (``pip download --no-binary :all: --no-deps apache-airflow-providers-amazon==9.39.0``,
``tests/system/amazon/aws/``) with their Apache-2.0 headers, together with that directory's
``utils/__init__.py``. They run as published; what differs from a run against AWS is only
configuration, never a DAG file, except in ``example_sagemaker.py``, whose set-up installs the
AWS CLI from the internet and builds and pushes a Docker image for its processing job. Its edits,
each marked ``offline`` in the file:

- no AWS CLI install and no Docker build: the processing job runs the SageMaker scikit-learn
  1.2-1 image with ``ContainerEntrypoint`` ``python3 /opt/ml/processing/code/preprocessing.py``
  and the script as a ``code`` processing input (``SKLEARN_IMAGES_BY_REGION``,
  ``PREPROCESS_SCRIPT_KEY``, ``PREPROCESS_CODE_PATH``);
- a task ``upload_preprocess_script`` (an S3CreateObjectOperator after ``upload_dataset``)
  puts the script where that input reads it;
- ``delete_ecr_repository`` calls BatchDeleteImage only when the repository has images (none
  was pushed, and the call takes at least one).

Everything else runs as published; the rest of the difference from AWS is configuration:

- ``tests_common`` (Airflow's own test helpers, not in the sdist) is our stand-in with the same
  three names: ``version_compat.AIRFLOW_V_3_0_PLUS``, ``watcher``, ``system_tests.get_test_run``;
- ``airflow_local_settings.py``, a cluster policy, makes operators check and sensors poke every
  second (the DAGs wait 10-60 s between polls, as jobs on AWS take minutes) and botocore's
  waiters poll every second; the calls are the DAGs' own;
- the variables the DAGs read from the environment or SSM: ``ROLE_ARN`` (any role; the emulator
  enforces no IAM) and ``SYSTEM_TESTS_ENV_ID`` (a fresh one per run), the AWS connection and
  ``AWS_ENDPOINT_URL`` pointing every client, the DAGs' plain boto3 ones included, at the emulator.

Each run must end green with every task succeeded: the trigger-rule teardown tasks included,
and the watcher (which fails the run when any task failed) skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.offline_account import OfflineAccount, new_account
from tools.offline import offline_environment

# Minutes in all: among the modules that go out first (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DAGS = ROOT / "tests" / "provider_dags"
DAGS_FOLDER = PROVIDER_DAGS / "system" / "amazon" / "aws"
ROLE_ARN = "arn:aws:iam::123456789012:role/ProviderExampleRole"
RUN_TIMEOUT_S = 900
EXAMPLES = (
    "example_sagemaker",
    "example_sagemaker_endpoint",
    "example_sagemaker_pipeline",
    "example_sagemaker_notebook",
    "example_sagemaker_condition",
)


@dataclass
class ExampleRun:
    """One DAG's `airflow dags test`, started in the background; ``states`` waits for it."""

    dag_id: str
    env_id: str
    airflow_home: Path
    process: subprocess.Popen
    output: Path

    def states(self, branches_not_taken: frozenset[str] = frozenset()) -> dict[str, str]:
        """The state of each task. The run must succeed, and every task with it but the
        watcher and ``branches_not_taken``, which must be skipped."""
        code = self.process.wait(timeout=RUN_TIMEOUT_S)
        with sqlite3.connect(self.airflow_home / "airflow.db") as db:
            (run_id,) = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                (self.dag_id,),
            ).fetchone()
            states = dict(
                db.execute(
                    "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                    (self.dag_id, run_id),
                ).fetchall()
            )
        not_succeeded = {task: state for task, state in states.items() if state != "success"}
        skipped = dict.fromkeys({"watcher", *branches_not_taken}, "skipped")
        assert code == 0 and not_succeeded == skipped, (
            f"{self.dag_id}: exit {code}, not succeeded: {not_succeeded}\n"
            f"{self.output.read_text()[-8000:]}"
        )
        return states


@pytest.fixture(scope="module")
def runs(
    account: OfflineAccount, migrated_airflow_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ExampleRun]]:
    """The five DAGs, started together against the module's emulator: most of their time is
    the jobs' and their own polling, which overlap. Each has an Airflow home (and SQLite DB) of
    its own and a fresh env id, so they share nothing but the emulator."""
    started: dict[str, ExampleRun] = {}
    for dag_id in EXAMPLES:
        state_dir = new_account(tmp_path_factory.mktemp(dag_id), migrated_airflow_home)
        env_id = f"env{uuid.uuid4().hex[:8]}"
        env = offline_environment(account.emulator_url, state_dir / "airflow")
        env.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "PYTHONPATH": os.pathsep.join([str(PROVIDER_DAGS), env["PYTHONPATH"]]),
                "ROLE_ARN": ROLE_ARN,
                "SYSTEM_TESTS_ENV_ID": env_id,
            }
        )
        run_after = dt.datetime.now(dt.UTC).replace(microsecond=0)
        output = state_dir / "dag_test.log"
        with output.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tools.dag_test",
                    dag_id,
                    run_after.date().isoformat(),
                    "--run-after",
                    run_after.isoformat(),
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started[dag_id] = ExampleRun(dag_id, env_id, state_dir / "airflow", process, output)
    try:
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


def test_example_sagemaker_condition(runs: dict[str, ExampleRun]) -> None:
    # Each condition operator skips the branch it does not take.
    not_taken = frozenset({"retrain_model", "should_not_run", "logical_fail"})
    states = runs["example_sagemaker_condition"].states(not_taken)
    assert {"deploy_model", "should_run", "logical_pass"} <= set(states)


def test_example_sagemaker_notebook(account: OfflineAccount, runs: dict[str, ExampleRun]) -> None:
    run = runs["example_sagemaker_notebook"]
    run.states()
    # The DAG deletes its instance at the end: nothing of it is left.
    listed = account.client("sagemaker").list_notebook_instances(NameContains=run.env_id)
    assert listed["NotebookInstances"] == []


def test_example_sagemaker_endpoint(account: OfflineAccount, runs: dict[str, ExampleRun]) -> None:
    run = runs["example_sagemaker_endpoint"]
    states = run.states()
    assert {"train_model", "create_model", "deploy_endpoint", "call_endpoint"} <= set(states)
    sagemaker = account.client("sagemaker")
    # Its teardown deleted the endpoint; the k-NN training job remains, as on AWS.
    assert sagemaker.list_endpoints(NameContains=run.env_id)["Endpoints"] == []
    (job,) = sagemaker.list_training_jobs(NameContains=run.env_id)["TrainingJobSummaries"]
    assert job["TrainingJobStatus"] == "Completed"


def test_example_sagemaker_pipeline(account: OfflineAccount, runs: dict[str, ExampleRun]) -> None:
    run = runs["example_sagemaker_pipeline"]
    run.states()
    sagemaker = account.client("sagemaker")
    # Its teardown deleted the pipeline and the experiment its executions made.
    assert sagemaker.list_pipelines(PipelineNamePrefix=run.env_id)["PipelineSummaries"] == []
    experiments = sagemaker.list_experiments()["ExperimentSummaries"]
    assert not [e for e in experiments if e["ExperimentName"].startswith(run.env_id)]


def test_example_sagemaker(account: OfflineAccount, runs: dict[str, ExampleRun]) -> None:
    run = runs["example_sagemaker"]
    states = run.states()
    assert {"auto_ML", "await_auto_ML", "train_model", "tune_model", "test_model"} <= set(states)
    sagemaker = account.client("sagemaker")
    (automl,) = sagemaker.list_auto_ml_jobs(NameContains=run.env_id)["AutoMLJobSummaries"]
    assert automl["AutoMLJobStatus"] in {"Completed", "Stopped"}
    # The teardown deleted the experiments (its own, AutoML's and tuning's), the package group
    # and the model.
    experiments = sagemaker.list_experiments()["ExperimentSummaries"]
    assert not [e for e in experiments if e["ExperimentName"].startswith(run.env_id)]
    groups = sagemaker.list_model_package_groups(NameContains=run.env_id)
    assert groups["ModelPackageGroupSummaryList"] == []
    assert sagemaker.list_models(NameContains=run.env_id)["Models"] == []
