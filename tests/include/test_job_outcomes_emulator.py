"""Runs that tell the truth, against the emulator through the real operators: a job that ends
Stopped fails its task (attached or created, waited for in the task or resumed from the
provider's trigger); the same request is reused, a changed one (code content under the same key,
a hyperparameter) starts the next attempt, as a changed model or endpoint config gets the next
name; data and request errors fail once, without retry.

Each test tells the paths apart by what ran: the jobs that exist before and after, the name the
operator returned, and what it logged.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from include.adult_income import names, sagemaker_requests
from include.adult_income.operators import (
    FINGERPRINT_TAG,
    AttachOrCreateProcessingOperator,
    AttachOrCreateTrainingOperator,
    CreateOrReuseModelOperator,
    is_permanent_failure,
)
from tests.conftest import (
    CODE_DIR,
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    TrainedModel,
    processing_input,
    script_request,
    training_request,
    wait_for,
)
from tests.include.test_attach_or_create_emulator import (
    DAG_ID,
    context_for,
    deploy_operator,
    jobs_named,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "include" / "scripts"
ADULT_CSV = Path(__file__).resolve().parents[2] / "include" / "data" / "adult.csv"
SLEEPER = b"import time\ntime.sleep(120)\n"


def new_run(task_id: str) -> tuple[dict, str]:
    run_id = f"manual__{uuid.uuid4().hex}"
    return context_for(run_id, task_id), names.resource_name(DAG_ID, run_id, task_id)


def script_job(bucket: str, code_key: str, environment: dict | None = None):
    """build_config for a processing job running the script at ``code_key``, a key that stays
    the same across attempts, as prepare_run's per-run code prefix does."""

    def build(planned: dict, context: dict, job_name: str) -> dict:
        code = processing_input("code", f"s3://{bucket}/{code_key}", CODE_DIR)
        request = script_request(job_name, "job.py", inputs=[code])
        if environment:
            request["Environment"] = environment
        return request

    return build


def processing_operator(connection: str, build, **kwargs: Any) -> AttachOrCreateProcessingOperator:
    kwargs.setdefault("check_interval", 0.2)
    return AttachOrCreateProcessingOperator(
        task_id="preprocess", build_config=build, aws_conn_id=connection, **kwargs
    )


def start_script_job(aws, bucket: str, script: bytes, connection: str) -> tuple[dict, str, Any]:
    """A run whose preprocess job was created (tagged as the operator tags it) by a task that
    was then killed: the job exists and runs ``script``."""
    context, base = new_run("preprocess")
    code_key = f"{base}/code/job.py"
    aws("s3").put_object(Bucket=bucket, Key=code_key, Body=script)
    build = script_job(bucket, code_key)
    request = processing_operator(connection, build).request_for(context, base)
    aws("sagemaker").create_processing_job(**request)
    return context, base, build


def stop_once_waiting(
    operator: AttachOrCreateProcessingOperator, stop: Callable[[str], None]
) -> list[str]:
    """Make ``operator`` stop its job from the test once its wait has seen it InProgress, so the
    job goes Stopping -> Stopped while the task waits; returns the statuses the wait saw."""
    seen: list[str] = []
    waiting: list[str] = []
    describe, wait = operator.describe_job, operator.wait_for_job

    def watched_wait(name: str) -> dict:
        waiting.append(name)
        return wait(name)

    def watched_describe(name: str) -> dict:
        description = describe(name)
        status = description["ProcessingJobStatus"]
        if waiting:
            seen.append(status)
            if status == "InProgress" and seen.count("InProgress") == 1:
                stop(name)
        return description

    operator.wait_for_job = watched_wait
    operator.describe_job = watched_describe
    return seen


def failure_reason(aws, name: str) -> str:
    return aws("sagemaker").describe_processing_job(ProcessingJobName=name)["FailureReason"]


# --- Stopped is not success ---------------------------------------------------------------


def test_an_attached_job_stopped_while_waiting_fails_the_task(aws, bucket, connection) -> None:
    context, base, build = start_script_job(aws, bucket, SLEEPER, connection)
    operator = processing_operator(connection, build)
    stop = aws("sagemaker").stop_processing_job
    seen = stop_once_waiting(operator, lambda name: stop(ProcessingJobName=name))

    with pytest.raises(AirflowException) as raised:
        operator.execute(context)

    assert seen[0] == "InProgress" and seen[-1] == "Stopped"  # it attached, then saw the stop
    reason = failure_reason(aws, base)
    assert str(raised.value) == f"processing job {base} ended Stopped: {reason}"
    assert type(raised.value) is AirflowException  # Stopped keeps its retries
    assert jobs_named(aws, base) == [base]  # attached: no second job


def test_a_created_job_stopped_while_waiting_fails_the_task(aws, bucket, connection) -> None:
    context, base = new_run("preprocess")
    aws("s3").put_object(Bucket=bucket, Key=f"{base}/code/job.py", Body=SLEEPER)
    operator = processing_operator(connection, script_job(bucket, f"{base}/code/job.py"))
    stop = aws("sagemaker").stop_processing_job
    seen = stop_once_waiting(operator, lambda name: stop(ProcessingJobName=name))
    assert jobs_named(aws, base) == []

    with pytest.raises(AirflowException, match=f"processing job {base} ended Stopped: "):
        operator.execute(context)

    assert seen[-1] == "Stopped"
    assert jobs_named(aws, base) == [base]


# --- reuse only what is the same ----------------------------------------------------------


def test_same_request_is_reused_and_changed_code_starts_the_next_attempt(
    aws, bucket, connection, capfd: pytest.CaptureFixture[str]
) -> None:
    context, base = new_run("preprocess")
    code_key = f"{base}/code/job.py"  # one key for every attempt, as prepare_run uploads it
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key=code_key, Body=b"print('version 1')\n")
    build = script_job(bucket, code_key)

    first = processing_operator(connection, build).execute(context)
    assert first["Processing"]["ProcessingJobName"] == base
    assert jobs_named(aws, base) == [base]
    capfd.readouterr()

    again = processing_operator(connection, build).execute(context)
    assert again["Processing"]["ProcessingJobName"] == base
    assert jobs_named(aws, base) == [base]
    assert f"Processing job {base} already completed: reusing it." in capfd.readouterr().out

    s3.put_object(Bucket=bucket, Key=code_key, Body=b"print('version 2, fixed')\n")
    changed = processing_operator(connection, build).execute(context)
    assert changed["Processing"]["ProcessingJobName"] == f"{base}-a2"
    assert changed["Processing"]["ProcessingJobStatus"] == "Completed"
    assert jobs_named(aws, base) == [base, f"{base}-a2"]
    out = capfd.readouterr().out
    assert f"{base}: request changed (fingerprint " in out
    assert "): starting attempt 2" in out

    # Cleared again with nothing changed: the new attempt is reused.
    cleared = processing_operator(connection, build).execute(context)
    assert cleared["Processing"]["ProcessingJobName"] == f"{base}-a2"
    assert jobs_named(aws, base) == [base, f"{base}-a2"]


def test_the_planned_upload_runs_before_the_fingerprint_so_an_edited_script_reruns(
    aws, bucket, connection, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # As the DAG plans it: the request carries the provider's S3Operations, which upload the
    # task's script to the run's code key each time the task runs.
    context, base = new_run("evaluate")
    code_key = f"{base}/code/job.py"
    script = tmp_path / "job.py"
    planned = {
        **script_job(bucket, code_key)({}, context, base),
        "S3Operations": {
            "S3Upload": [{"Path": str(script), "Bucket": bucket, "Key": code_key, "Tar": False}]
        },
    }

    def run() -> dict:
        operator = processing_operator(connection, build=None, config=planned)
        result = operator.execute(context)["Processing"]
        assert "S3Operations" not in operator.config  # what the Rendered Template tab keeps
        assert operator.config["ProcessingJobName"] == result["ProcessingJobName"]
        return result

    script.write_text("print('version 1')\n")
    assert run()["ProcessingJobName"] == base
    assert run()["ProcessingJobName"] == base  # cleared, nothing changed: reused
    assert jobs_named(aws, base) == [base]
    script.write_text("print('version 2, fixed')\n")  # evaluate.py edited, evaluate cleared
    assert run()["ProcessingJobName"] == f"{base}-a2"
    assert jobs_named(aws, base) == [base, f"{base}-a2"]
    body = aws("s3").get_object(Bucket=bucket, Key=code_key)["Body"].read()
    assert body == b"print('version 2, fixed')\n"
    assert f"Uploading s3://{bucket}/{code_key} before building the request." in (
        capfd.readouterr().out
    )


def test_a_job_without_the_fingerprint_tag_counts_as_changed(aws, bucket, connection) -> None:
    context, base = new_run("preprocess")
    code_key = f"{base}/code/job.py"
    aws("s3").put_object(Bucket=bucket, Key=code_key, Body=b"print('ok')\n")
    build = script_job(bucket, code_key)
    aws("sagemaker").create_processing_job(**build({}, context, base))  # an older version's job
    wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=base),
        "ProcessingJobStatus",
    )

    result = processing_operator(connection, build).execute(context)

    assert result["Processing"]["ProcessingJobName"] == f"{base}-a2"
    assert jobs_named(aws, base) == [base, f"{base}-a2"]
    arn = result["Processing"]["ProcessingJobArn"]
    tags = aws("sagemaker").list_tags(ResourceArn=arn)["Tags"]
    assert [tag["Key"] for tag in tags] == [FINGERPRINT_TAG]
    assert len(tags[0]["Value"]) == 64


def test_a_running_attempt_with_an_old_request_is_stopped_before_the_next(
    aws, bucket, connection
) -> None:
    context, base, _ = start_script_job(aws, bucket, SLEEPER, connection)
    # The same script, another environment: a request change while the old job still runs
    # (it sleeps for two minutes; so does the new attempt, which nothing waits for here).
    changed = script_job(bucket, f"{base}/code/job.py", environment={"MODE": "fixed"})
    operator = processing_operator(connection, changed, deferrable=True)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    assert deferred.value.trigger.job_name == f"{base}-a2"
    old = aws("sagemaker").describe_processing_job(ProcessingJobName=base)
    assert old["ProcessingJobStatus"] == "Stopped"  # it would have written the same outputs
    assert jobs_named(aws, base) == [base, f"{base}-a2"]
    aws("sagemaker").stop_processing_job(ProcessingJobName=f"{base}-a2")


def training_job(bucket: str, prefix: str, hyperparameters: dict[str, str]):
    def build(planned: dict, context: dict, job_name: str) -> dict:
        return training_request(job_name, bucket, prefix, hyperparameters)

    return build


def training_jobs_named(aws, base: str) -> list[str]:
    listed = aws("sagemaker").list_training_jobs(NameContains=base, MaxResults=100)
    return sorted(job["TrainingJobName"] for job in listed["TrainingJobSummaries"])


def test_training_reuses_the_same_hyperparameters_and_reruns_changed_ones(
    aws, bucket, connection, trained_model: TrainedModel
) -> None:
    context, base = new_run("train")
    prefix = f"fingerprint-{uuid.uuid4().hex[:8]}"
    for split in ("train", "validation"):
        path = trained_model.processed / split / f"{split}.csv"
        aws("s3").upload_file(str(path), bucket, f"{prefix}/{split}/{split}.csv")
    seed = {"objective": "binary:logistic", "num_round": "5", "max_depth": "3"}

    def train(hyperparameters: dict[str, str]) -> dict:
        return AttachOrCreateTrainingOperator(
            task_id="train",
            build_config=training_job(bucket, prefix, hyperparameters),
            aws_conn_id=connection,
            check_interval=0.2,
            print_log=True,  # the log is streamed while the wait polls
        ).execute(context)["Training"]

    assert train(seed)["TrainingJobName"] == base
    assert train(dict(seed))["TrainingJobName"] == base
    assert training_jobs_named(aws, base) == [base]
    changed = train({**seed, "max_depth": "4"})
    assert (changed["TrainingJobName"], changed["TrainingJobStatus"]) == (f"{base}-a2", "Completed")
    assert changed["HyperParameters"]["max_depth"] == "4"
    assert training_jobs_named(aws, base) == [base, f"{base}-a2"]


# --- fail fast on what retries cannot fix -------------------------------------------------


def without_label(rows: int = 60) -> bytes:
    """The first rows of adult.csv with the label column dropped."""
    with ADULT_CSV.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        keep = [i for i, column in enumerate(header) if column != "income"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([header[i] for i in keep])
        for _, row in zip(range(rows), reader, strict=False):
            writer.writerow([row[i] for i in keep])
    return out.getvalue().encode()


def test_a_data_error_fails_once_without_retry(aws, bucket, connection) -> None:
    context, base = new_run("preprocess")
    run_uri = f"s3://{bucket}/{base}/run"
    layout = sagemaker_requests.RunLayout(input_uri=f"s3://{bucket}/{base}/raw/", run_uri=run_uri)
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key=f"{base}/raw/adult.csv", Body=without_label())
    for script in (
        "preprocess.py",
        sagemaker_requests.INFERENCE_SCRIPT,
    ):  # what prepare_run uploads
        s3.upload_file(str(SCRIPTS / script), bucket, f"{base}/run/code/{script}")

    def build(planned: dict, context: dict, job_name: str) -> dict:
        return sagemaker_requests.preprocess_request(
            job_name=job_name,
            image_uri=SKLEARN_IMAGE,
            role_arn=ROLE,
            layout=layout,
            seed=42,
            instance_type="ml.m5.large",
            instance_count=1,
        )

    with pytest.raises(AirflowFailException, match=f"processing job {base} ended Failed: ") as e:
        processing_operator(connection, build).execute(context)

    description = aws("sagemaker").describe_processing_job(ProcessingJobName=base)
    assert is_permanent_failure(description)
    assert description["FailureReason"] in str(e.value)
    assert "no retry can fix" in str(e.value)
    assert jobs_named(aws, base) == [base]  # one job: nothing retried it


def test_a_malformed_request_fails_without_creating_anything(aws, bucket, connection) -> None:
    context, base = new_run("preprocess")
    valid = script_job(bucket, f"{base}/code/job.py")

    def build(planned: dict, context: dict, job_name: str) -> dict:
        request = valid(planned, context, job_name)
        request["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.nonexistent.large"
        return request

    with pytest.raises(AirflowFailException, match=r"ValidationException.*ml\.nonexistent\.large"):
        processing_operator(connection, build).execute(context)
    assert jobs_named(aws, base) == []


def test_a_training_client_error_fails_without_retry(aws, bucket, connection) -> None:
    context, base = new_run("train")
    prefix = f"bad-hyper-{uuid.uuid4().hex[:8]}"
    for channel in ("train", "validation"):  # the channels exist: the hyperparameters are bad
        aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/{channel}/x.csv", Body=b"1,2\n0,3\n")
    build = training_job(bucket, prefix, {"num_round": "5", "eta": "7"})

    with pytest.raises(
        AirflowFailException, match=f"training job {base} ended Failed: ClientError"
    ):
        AttachOrCreateTrainingOperator(
            task_id="train", build_config=build, aws_conn_id=connection, check_interval=0.2
        ).execute(context)
    assert training_jobs_named(aws, base) == [base]


# --- deferrable: the provider's trigger, the same ending ------------------------------------


def test_a_deferrable_attach_defers_to_the_providers_trigger(aws, bucket, connection) -> None:
    context, base, build = start_script_job(aws, bucket, SLEEPER, connection)
    operator = processing_operator(
        connection, build, check_interval=5, max_ingestion_time=600, deferrable=True
    )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    trigger = deferred.value.trigger
    assert type(trigger) is SageMakerTrigger
    assert (trigger.job_name, trigger.job_type) == (base, "Processing")
    assert (trigger.waiter_delay, trigger.attempts) == (5, 120)  # bounded: 600 s
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout is not None
    assert jobs_named(aws, base) == [base]  # attached: nothing created

    # The job is stopped while the task is deferred; the trigger reports it, the task resumes.
    aws("sagemaker").stop_processing_job(ProcessingJobName=base)
    wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=base),
        "ProcessingJobStatus",
    )
    event = {"status": "stopped", "job_name": base, "message": "Waiter encountered a terminal"}
    with pytest.raises(AirflowException) as raised:
        operator.execute_complete(context, event)
    assert str(raised.value) == f"processing job {base} ended Stopped: {failure_reason(aws, base)}"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (b"raise SystemExit('disk on fire')\n", AirflowException),  # exit 1: retried
        (
            b"import sys\nprint('evaluate: error: no rows', file=sys.stderr)\nsys.exit(2)\n",
            AirflowFailException,  # the scripts' data-error exit: not retried
        ),
    ],
)
def test_a_deferred_job_that_failed_fails_the_task_with_its_reason(
    aws, bucket, connection, script: bytes, error: type
) -> None:
    context, base, build = start_script_job(aws, bucket, script, connection)
    final = wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=base),
        "ProcessingJobStatus",
    )
    assert final["ProcessingJobStatus"] == "Failed"
    operator = processing_operator(connection, build, deferrable=True)
    event = {"status": "failed", "job_name": base, "message": final["FailureReason"]}

    with pytest.raises(AirflowException) as raised:
        operator.execute_complete(context, event)

    assert type(raised.value) is error
    assert str(raised.value).startswith(
        f"processing job {base} ended Failed: {final['FailureReason']}"
    )


def test_a_deferrable_create_defers_and_resumes_into_the_result(aws, bucket, connection) -> None:
    context, base = new_run("preprocess")
    aws("s3").put_object(Bucket=bucket, Key=f"{base}/code/job.py", Body=b"print('ok')\n")
    build = script_job(bucket, f"{base}/code/job.py")
    operator = processing_operator(connection, build, check_interval=1, deferrable=True)
    described: list[str] = []
    describe = operator.describe_job

    def first_sees_it_running(name: str) -> dict:
        # The describe right after CreateProcessingJob sees it InProgress, as on AWS where a
        # job takes minutes; later describes are the emulator's own.
        description = describe(name)
        described.append(description["ProcessingJobStatus"])
        return (
            {**description, "ProcessingJobStatus": "InProgress"}
            if len(described) == 1
            else description
        )

    operator.describe_job = first_sees_it_running
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.job_name == base
    assert jobs_named(aws, base) == [base]

    wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=base),
        "ProcessingJobStatus",
    )
    resumed = operator.execute_complete(context, {"status": "success", "job_name": base})
    assert resumed["Processing"]["ProcessingJobName"] == base
    assert resumed["Processing"]["ProcessingJobStatus"] == "Completed"
    assert jobs_named(aws, base) == [base]


def test_a_changed_model_request_makes_the_next_model(aws, bucket, connection) -> None:
    context, base = new_run("create_model")
    artifact = f"{base}/model.tar.gz"
    aws("s3").put_object(Bucket=bucket, Key=artifact, Body=b"booster 1")

    def model_config(planned: dict, context: dict, name: str) -> dict:
        return {
            "ModelName": name,
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {
                "Image": XGBOOST_IMAGE,
                "ModelDataUrl": f"s3://{bucket}/{artifact}",
            },
        }

    def create() -> str:
        return CreateOrReuseModelOperator(
            task_id="create_model", build_config=model_config, aws_conn_id=connection
        ).execute(context)["Model"]["ModelName"]

    def models() -> list[str]:
        listed = aws("sagemaker").list_models(NameContains=base, MaxResults=100)["Models"]
        return sorted(model["ModelName"] for model in listed)

    assert (create(), create(), models()) == (base, base, [base])
    # A new artifact under the same key (training re-ran in place): a new model, never the old.
    aws("s3").put_object(Bucket=bucket, Key=artifact, Body=b"booster 2")
    assert (create(), create(), models()) == (f"{base}-a2", f"{base}-a2", [base, f"{base}-a2"])


def test_deploying_another_model_in_the_same_run_makes_the_next_endpoint_config(
    aws, connection, trained_model: TrainedModel
) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    config = names.resource_name(DAG_ID, run_id, "deploy")

    def deploy(model: str) -> dict:
        return deploy_operator(connection, endpoint, model).execute(context_for(run_id, "deploy"))

    first = deploy(trained_model.builtin_model)
    assert first["Endpoint"]["EndpointConfigName"] == config
    # create_model made a new model for a changed request; deploy is cleared
    second = deploy(trained_model.script_model)
    assert second["Endpoint"]["EndpointConfigName"] == f"{config}-a2"
    assert second["Endpoint"]["EndpointStatus"] == "InService"
    served = second["EndpointConfig"]["ProductionVariants"][0]["ModelName"]
    assert served == trained_model.script_model
    configs = aws("sagemaker").list_endpoint_configs(NameContains=config)["EndpointConfigs"]
    assert sorted(c["EndpointConfigName"] for c in configs) == [config, f"{config}-a2"]
    aws("sagemaker").delete_endpoint(EndpointName=endpoint)
