"""AutoML jobs through boto3: the candidate search really runs, its best candidate serves raw
rows, and the job answers Describe / ListCandidates / Stop as SageMaker does."""

from __future__ import annotations

import io
import tarfile
import uuid

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, wait_for

PENDING = frozenset({"InProgress", "Stopping"})


def table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A target decided by a number and a text column: class 0, 1 or 2."""
    generator = np.random.RandomState(seed)
    x = generator.uniform(0, 10, rows)
    colour = generator.choice(["red", "green", "blue"], rows)
    label = np.where(x < 3, 0, np.where(colour == "red", 1, 2))
    return pd.DataFrame({"x": x.round(3), "colour": colour, "species": label})


def upload(aws, bucket: str, frame: pd.DataFrame) -> str:
    prefix = f"automl-{uuid.uuid4().hex[:8]}"
    key = f"{prefix}/input/data.csv"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=frame.to_csv(index=False).encode())
    return prefix


def create_v1(aws, bucket: str, prefix: str, target: str = "species", **extra) -> str:
    name = f"aml-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_auto_ml_job(
        AutoMLJobName=name,
        InputDataConfig=[
            {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{prefix}/input/data.csv",
                    }
                },
                "TargetAttributeName": target,
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{prefix}/output"},
        RoleArn=ROLE,
        **extra,
    )
    return name


def finished(aws, name: str, timeout: float = 300) -> dict:
    sagemaker = aws("sagemaker")
    return wait_for(
        lambda: sagemaker.describe_auto_ml_job(AutoMLJobName=name),
        "AutoMLJobStatus",
        timeout=timeout,
        pending=PENDING,
    )


@pytest.fixture(scope="module")
def searched(aws, bucket) -> tuple[str, str, dict]:
    prefix = upload(aws, bucket, table())
    name = create_v1(aws, bucket, prefix)
    return prefix, name, finished(aws, name)


def test_a_search_completes_with_the_best_candidate(aws, searched) -> None:
    _, name, job = searched
    assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AutoMLJobSecondaryStatus"] == "MaxCandidatesReached"
    resolved = job["ResolvedAttributes"]
    assert resolved["ProblemType"] == "MulticlassClassification"
    assert resolved["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    candidates = aws("sagemaker").list_candidates_for_auto_ml_job(
        AutoMLJobName=name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )["Candidates"]
    assert len(candidates) == 3
    values = [c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in candidates]
    assert values == sorted(values, reverse=True) and values[0] >= 0.9
    best = job["BestCandidate"]
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == values[0]
    assert best["FinalAutoMLJobObjectiveMetric"]["StandardMetricName"] == "Accuracy"
    (step,) = best["CandidateSteps"]
    training = aws("sagemaker").describe_training_job(TrainingJobName=step["CandidateStepName"])
    assert training["TrainingJobStatus"] == "Completed"
    assert training["HyperParameters"]["objective"] == "multi:softprob"


def test_the_best_candidate_serves_raw_rows_in_a_transform_job(aws, bucket, searched) -> None:
    prefix, name, job = searched
    sagemaker, s3 = aws("sagemaker"), aws("s3")
    (container,) = job["BestCandidate"]["InferenceContainers"]
    model = f"{name}-best"
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, Containers=[container])
    archive = s3.get_object(Bucket=bucket, Key=container["ModelDataUrl"].split("/", 3)[3])
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
        assert {"xgboost-model", "feature_spec.json", "code/inference.py"} <= set(tar.getnames())
    rows = "1.0,red\n5.0,red\n5.0,blue\n8.5,green\n"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/score/rows.csv", Body=rows.encode())
    transform = f"{name}-tr"
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}/score"}}
    sagemaker.create_transform_job(
        TransformJobName=transform,
        ModelName=model,
        TransformInput={"DataSource": source, "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{bucket}/{prefix}/scored", "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    done = wait_for(
        lambda: sagemaker.describe_transform_job(TransformJobName=transform),
        "TransformJobStatus",
        timeout=300,
    )
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    out = s3.get_object(Bucket=bucket, Key=f"{prefix}/scored/rows.csv.out")["Body"].read()
    assert out.decode().split() == ["0", "1", "2", "2"]


def test_its_experiment_holds_a_trial_per_candidate(aws, searched) -> None:
    _, name, _ = searched
    trials = aws("sagemaker").list_trials(ExperimentName=f"{name}-aws-auto-ml-job")
    assert len(trials["TrialSummaries"]) == 3


def test_stopping_a_finished_job_is_refused_as_terminal(aws, searched) -> None:
    _, name, _ = searched
    with pytest.raises(ClientError) as refused:
        aws("sagemaker").stop_auto_ml_job(AutoMLJobName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "already reached a terminal state" in refused.value.response["Error"]["Message"]


def test_the_runtime_limit_stops_the_job(aws, bucket) -> None:
    prefix = upload(aws, bucket, table(seed=1))
    name = create_v1(
        aws,
        bucket,
        prefix,
        AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 1}},
    )
    job = finished(aws, name)
    assert job["AutoMLJobStatus"] == "Stopped"
    assert job["AutoMLJobSecondaryStatus"] == "MaxAutoMLJobRuntimeReached"


def test_stop_ends_a_running_job_stopped(aws, bucket) -> None:
    prefix = upload(aws, bucket, table(seed=2))
    name = create_v1(aws, bucket, prefix)
    aws("sagemaker").stop_auto_ml_job(AutoMLJobName=name)
    job = finished(aws, name)
    assert (job["AutoMLJobStatus"], job["AutoMLJobSecondaryStatus"]) == ("Stopped", "Stopped")


@pytest.mark.parametrize(
    ("frame", "target", "message"),
    [
        (table(), "genus", "the target attribute 'genus' is not a column"),
        (table(rows=120), "species", "has 120 rows with a target; AutoML needs at least 500"),
        (table().assign(species=1), "species", "single value"),
    ],
)
def test_bad_data_fails_the_job_naming_the_problem(aws, bucket, frame, target, message) -> None:
    prefix = upload(aws, bucket, frame)
    job = finished(aws, create_v1(aws, bucket, prefix, target=target))
    assert job["AutoMLJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ") and message in job["FailureReason"]


def test_a_problem_type_needs_its_objective(aws, bucket) -> None:
    with pytest.raises(ClientError) as refused:
        create_v1(aws, bucket, "nowhere", ProblemType="Regression")
    assert "must be specified together" in str(refused.value)
    with pytest.raises(ClientError) as refused:
        create_v1(
            aws,
            bucket,
            "nowhere",
            ProblemType="Regression",
            AutoMLJobObjective={"MetricName": "Accuracy"},
        )
    assert "not valid for the Regression problem type" in str(refused.value)


def test_a_v2_regression_job_resolves_and_describes_as_v2(aws, bucket) -> None:
    frame = table()
    frame["species"] = frame["x"] * 2 + (frame["colour"] == "red") * 5
    prefix = upload(aws, bucket, frame)
    name = f"aml2-{uuid.uuid4().hex[:8]}"
    sagemaker = aws("sagemaker")
    sagemaker.create_auto_ml_job_v2(
        AutoMLJobName=name,
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{prefix}/input/",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{prefix}/output"},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {
                "TargetAttributeName": "species",
                "ProblemType": "Regression",
                "CompletionCriteria": {"MaxCandidates": 1},
            }
        },
        AutoMLJobObjective={"MetricName": "RMSE"},
        RoleArn=ROLE,
    )
    job = wait_for(
        lambda: sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name),
        "AutoMLJobStatus",
        timeout=300,
        pending=PENDING,
    )
    assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AutoMLProblemTypeConfigName"] == "Tabular"
    assert job["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "RMSE"}
    metric = job["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]
    assert metric["Type"] == "Minimize" and metric["Value"] < 1.0
    listed = sagemaker.list_auto_ml_jobs(NameContains=name)["AutoMLJobSummaries"]
    assert [summary["AutoMLJobName"] for summary in listed] == [name]
