"""The tune task's attach-or-create against the emulator, with the run's planned tuning job
(script mode: train.py uploaded by the task as its code archive): a retry re-attaches to the
tuning job its request started, a re-run reuses it, a changed request starts the next attempt,
and a Stopped tuning job fails the task. Small data, 2 training jobs each."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException

from include.adult_income import names, tasks
from include.adult_income.operators import AttachOrCreateTuningOperator
from include.adult_income.params import pipeline_params
from include.adult_income.sagemaker_requests import RunLayout
from tests.conftest import ROLE, XGBOOST_IMAGE
from tests.scripts.conftest import ADULT_CSV, load_script, preprocess_args

DAG_ID = "adult_income_pipeline"
ROWS = 1200  # a slice of the data: each training job takes about a second


@pytest.fixture(scope="module")
def layout(aws, bucket, tmp_path_factory: pytest.TempPathFactory) -> RunLayout:
    """A run's layout whose train and validation splits are the first rows of preprocess.py's."""
    processed = tmp_path_factory.mktemp("tune-processed")
    assert load_script("preprocess").main(preprocess_args(ADULT_CSV.parent, processed)) == 0
    run_uri = f"s3://{bucket}/tune-{uuid.uuid4().hex[:8]}"
    run = RunLayout(input_uri=f"{run_uri}/raw/", run_uri=run_uri)
    for split in ("train", "validation"):
        lines = (processed / split / f"{split}.csv").read_text().splitlines()[:ROWS]
        key = f"{run.data_uri(split).split('/', 3)[3]}/{split}.csv"
        aws("s3").put_object(Bucket=bucket, Key=key, Body="\n".join(lines) + "\n")
    return run


def planned_tuning(layout: RunLayout, run_id: str, **conf) -> dict:
    """The tune task's planned request, as prepare_run plans it for this conf."""
    params = {key: param.value for key, param in pipeline_params().items()}
    params.update(
        training_mode="script",
        tuning_max_jobs=2,
        tuning_max_parallel_jobs=2,
        tuning_strategy="Random",
        **conf,
    )
    planned = tasks.training_requests(
        params,
        lambda task_id: names.resource_name(DAG_ID, run_id, task_id),
        SimpleNamespace(role_arn=ROLE),
        layout,
        {"xgboost": XGBOOST_IMAGE},
    )["tune"]
    # Fewer rounds than the DAG's range: the test is about the task, not the search.
    for item in planned["HyperParameterTuningJobConfig"]["ParameterRanges"][
        "IntegerParameterRanges"
    ]:
        if item["Name"] == "num_round":
            item.update(MinValue="5", MaxValue="20")
    return planned


def operator(connection: str, planned: dict) -> AttachOrCreateTuningOperator:
    return AttachOrCreateTuningOperator(
        task_id="tune", config=planned, aws_conn_id=connection, check_interval=1
    )


def context_for(run_id: str) -> dict:
    return {"ti": SimpleNamespace(dag_id=DAG_ID, task_id="tune"), "run_id": run_id}


def tuning_jobs_named(aws, base: str) -> list[str]:
    listed = aws("sagemaker").list_hyper_parameter_tuning_jobs(NameContains=base, MaxResults=100)
    return sorted(
        job["HyperParameterTuningJobName"] for job in listed["HyperParameterTuningJobSummaries"]
    )


def test_a_retried_tune_task_reattaches_then_reuses_then_follows_a_changed_request(
    aws, connection, layout: RunLayout, capfd: pytest.CaptureFixture[str]
) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    context = context_for(run_id)
    base = names.resource_name(DAG_ID, run_id, "tune")
    planned = planned_tuning(layout, run_id)

    # A task killed right after CreateHyperParameterTuningJob: the tuning job exists, tagged
    # with its request's fingerprint (train.py uploaded first), and is running.
    killed = operator(connection, planned)
    aws("sagemaker").create_hyper_parameter_tuning_job(**killed.request_for(context, base))
    result = operator(connection, planned).execute(context)
    assert f"Tuning job {base} is already running: waiting for it." in capfd.readouterr().out
    assert tuning_jobs_named(aws, base) == [base]
    tuning, best = result["Tuning"], result["Training"]
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    assert best["TrainingJobName"] == tuning["BestTrainingJob"]["TrainingJobName"]
    assert best["TrainingJobName"].startswith(f"{base}-")
    assert best["TrainingJobStatus"] == "Completed"
    assert best["ModelArtifacts"]["S3ModelArtifacts"] == layout.training_artifact_uri(
        best["TrainingJobName"]
    )
    # script mode's metrics, read with the request's definitions
    metrics = {m["MetricName"] for m in best["FinalMetricDataList"]}
    assert {"validation:auc", "validation:logloss"} <= metrics

    # Cleared after it completed: the same request (train.py uploaded again, the same bytes)
    # reuses the tuning job.
    again = operator(connection, planned).execute(context)
    assert f"Tuning job {base} already completed: reusing it." in capfd.readouterr().out
    assert again["Training"]["TrainingJobName"] == best["TrainingJobName"]
    assert tuning_jobs_named(aws, base) == [base]

    # Another objective is another request: the next attempt.
    changed = planned_tuning(layout, run_id, tuning_objective="validation:logloss")
    following = operator(connection, changed).execute(context)
    assert following["Tuning"]["HyperParameterTuningJobName"] == f"{base}-a2"
    assert "request changed" in capfd.readouterr().out
    assert tuning_jobs_named(aws, base) == [base, f"{base}-a2"]


def test_a_stopped_tuning_job_fails_the_task(aws, connection, layout: RunLayout) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    context = context_for(run_id)
    base = names.resource_name(DAG_ID, run_id, "tune")
    planned = planned_tuning(layout, run_id)
    aws("sagemaker").create_hyper_parameter_tuning_job(
        **operator(connection, planned).request_for(context, base)
    )
    aws("sagemaker").stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=base)
    # What the task does once it has attached (the hook's own wait would pass Stopped).
    attached = operator(connection, planned)
    attached.check_interval = 1.0
    with pytest.raises(AirflowException, match=rf"tuning job {base} ended Stopped"):
        attached.wait_and_finish(base)
