"""The built-in k-NN algorithm: its hyperparameters, training, metrics and inference formats,
alone and as SageMaker runs it (training, tuning, hosting, batch transform) through boto3."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.algorithms import knn_builtin
from tests.conftest import ROLE, one_variant, training_definition, wait_for

KNN_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"
REQUIRED = {"feature_dim": "2", "k": "3", "predictor_type": "classifier", "sample_size": "600"}


def clusters(rows_per_class: int = 30, seed: int = 1) -> np.ndarray:
    """Three well-separated 2-D clusters, label first (classes 0, 1, 2)."""
    generator = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    blocks = [
        np.column_stack(
            [np.full(rows_per_class, label), centre + generator.randn(rows_per_class, 2)]
        )
        for label, centre in enumerate(centres)
    ]
    return np.vstack(blocks)


def csv_text(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


# --- hyperparameters ------------------------------------------------------------------------


def test_the_four_required_hyperparameters_are_checked_and_typed() -> None:
    typed = knn_builtin.validate(REQUIRED)
    assert typed == {
        "feature_dim": 2,
        "k": 3,
        "predictor_type": "classifier",
        "sample_size": 600,
        "index_metric": "L2",
        "index_type": "faiss.Flat",
    }
    for name in REQUIRED:
        partial = {k: v for k, v in REQUIRED.items() if k != name}
        with pytest.raises(knn_builtin.AlgorithmError, match=f"'{name}' is a required property"):
            knn_builtin.validate(partial)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"k": "0"}, "k: '0' is not a positive integer"),
        ({"sample_size": "many"}, "sample_size: 'many' is not a positive integer"),
        ({"predictor_type": "ranker"}, "predictor_type: 'ranker' is not one of"),
        ({"index_metric": "L1"}, "index_metric: 'L1' is not one of"),
        ({"colour": "blue"}, "'colour' was unexpected"),
        ({"dimension_reduction_type": "sign"}, "must be given together"),
    ],
)
def test_a_wrong_hyperparameter_is_named(extra: dict, message: str) -> None:
    with pytest.raises(knn_builtin.AlgorithmError, match=message):
        knn_builtin.validate({**REQUIRED, **extra})


# --- training and prediction, alone ---------------------------------------------------------


def lay_out(tmp_path: Path, hyperparameters: dict, channels: dict[str, str], kind="text/csv"):
    config, data, model = tmp_path / "config", tmp_path / "data", tmp_path / "model"
    for directory in (config, data, model):
        directory.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": kind} for name in channels})
    )
    for name, text in channels.items():
        (data / name).mkdir()
        (data / name / f"{name}.csv").write_text(text)
    return config, data, model


def test_training_samples_saves_and_scores_the_test_channel(tmp_path: Path) -> None:
    rows = clusters()
    config, data, model_dir = lay_out(
        tmp_path,
        {**REQUIRED, "sample_size": "60"},
        {"train": csv_text(rows), "test": csv_text(rows)},
    )
    metrics = knn_builtin.train(config, data, model_dir)
    assert metrics["accuracy"] >= 0.95
    model = knn_builtin.Model.load(model_dir)
    assert len(model.points) == 60  # sample_size of the 90 records
    predicted, labels, distances = model.predict(np.array([[0.2, -0.1], [9.5, 0.3], [0.1, 9.8]]))
    assert predicted.tolist() == [0.0, 1.0, 2.0]
    assert labels.shape == distances.shape == (3, 3)
    assert np.all(np.diff(distances, axis=1) >= 0)  # nearest first


def test_a_regressor_predicts_the_neighbours_mean_and_reports_mse(tmp_path: Path) -> None:
    rows = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [10.0, 9.0]])
    hyperparameters = {
        "feature_dim": "1",
        "k": "2",
        "predictor_type": "regressor",
        "sample_size": "9",
    }
    config, data, model_dir = lay_out(
        tmp_path, hyperparameters, {"train": csv_text(rows), "test": csv_text(rows)}
    )
    metrics = knn_builtin.train(config, data, model_dir)
    predicted = knn_builtin.Model.load(model_dir).predict(np.array([[0.4]]))[0]
    assert predicted.tolist() == [1.5]  # the labels of the points at 0 and 1
    assert "mse" in metrics and metrics["mse"] > 0


def test_a_tie_goes_to_the_label_of_the_nearest_neighbour() -> None:
    points = np.array([[0.0], [1.0], [3.0], [4.0]])
    config = knn_builtin.validate({**REQUIRED, "feature_dim": "1", "k": "4"})
    model = knn_builtin.Model(points, np.array([7.0, 7.0, 5.0, 5.0]), config)
    assert model.predict(np.array([[2.6]]))[0].tolist() == [5.0]
    assert model.predict(np.array([[1.4]]))[0].tolist() == [7.0]


@pytest.mark.parametrize(
    ("channels", "kind", "message"),
    [
        ({"train": "0,1.0\n"}, "text/csv", "line 1: 2 columns; expected 3"),
        ({"train": "0,1.0,x\n"}, "text/csv", "train.csv line 1: not numeric"),
        ({"train": "0,1,2\n"}, "application/x-recordio-protobuf", "is not emulated"),
        ({"test": "0,1,2\n"}, "text/csv", "Channel 'train' is required"),
        ({"train": "0,1,2\n", "validation": "0,1,2\n"}, "text/csv", "'validation' is not supp"),
    ],
)
def test_bad_data_fails_naming_what_is_wrong(tmp_path, channels, kind, message) -> None:
    config, data, model_dir = lay_out(tmp_path, REQUIRED, channels, kind)
    with pytest.raises(knn_builtin.AlgorithmError, match=message):
        knn_builtin.train(config, data, model_dir)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"0.1,0.2\n9.9,0.1\n", "text/csv"),
        (
            b'{"instances": [{"features": [0.1, 0.2]}, {"features": [9.9, 0.1]}]}',
            "application/json",
        ),
        (b'{"features": [0.1, 0.2]}\n{"features": [9.9, 0.1]}\n', "application/jsonlines"),
    ],
)
def test_inference_reads_csv_json_and_jsonlines(body: bytes, content_type: str) -> None:
    rows = clusters()
    model = knn_builtin.Model(rows[:, 1:], rows[:, 0], knn_builtin.validate(REQUIRED))
    handlers = knn_builtin.KnnHandlers()
    answer, kind = handlers.invoke(model, body, content_type, None)
    assert kind == "application/json"
    assert json.loads(answer) == {
        "predictions": [{"predicted_label": 0.0}, {"predicted_label": 1.0}]
    }
    lines, kind = handlers.invoke(model, body, content_type, "application/jsonlines; verbose=true")
    first = json.loads(lines.splitlines()[0])
    assert kind == "application/jsonlines" and set(first) == {
        "predicted_label",
        "labels",
        "distances",
    }
    with pytest.raises(knn_builtin.ClientInputError, match="not supported"):
        handlers.invoke(model, body, content_type, "text/csv")
    with pytest.raises(knn_builtin.ClientInputError, match="feature_dim"):
        handlers.invoke(model, b"1,2,3\n", "text/csv", None)


# --- as SageMaker runs it -------------------------------------------------------------------


@pytest.fixture(scope="module")
def knn_data(aws, bucket) -> str:
    prefix = f"knn-{uuid.uuid4().hex[:8]}"
    rows = clusters()
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/train/train.csv", Body=csv_text(rows).encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/test/test.csv", Body=csv_text(rows).encode())
    features = csv_text(np.array([[0.3, 0.1], [10.2, -0.4], [-0.2, 9.7]]))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/batch/features.csv", Body=features.encode())
    return prefix


def knn_job(aws, bucket: str, prefix: str, hyperparameters: dict, channels=("train", "test")):
    name = f"knn-{uuid.uuid4().hex[:8]}"
    definition = training_definition(bucket, prefix, KNN_IMAGE, channels)
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=name, HyperParameters=hyperparameters, **definition
    )
    return wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )


@pytest.fixture(scope="module")
def knn_model(aws, bucket, knn_data) -> str:
    job = knn_job(aws, bucket, knn_data, REQUIRED)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    name = job["TrainingJobName"]
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": KNN_IMAGE,
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    return name


def test_a_training_job_reports_test_accuracy(aws, bucket, knn_data, knn_model) -> None:
    job = aws("sagemaker").describe_training_job(TrainingJobName=knn_model)
    metrics = {metric["MetricName"]: metric["Value"] for metric in job["FinalMetricDataList"]}
    assert set(metrics) == {"test:accuracy"} and metrics["test:accuracy"] >= 0.95


def test_a_training_job_with_a_bad_hyperparameter_fails_as_a_client_error(aws, bucket, knn_data):
    job = knn_job(aws, bucket, knn_data, {**REQUIRED, "feature_dim": "3"})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ")
    assert "expected 4" in job["FailureReason"]


def test_an_endpoint_answers_the_documented_json(aws, knn_model) -> None:
    sagemaker = aws("sagemaker")
    name = f"ep-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=one_variant(knn_model)
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=name),
        "EndpointStatus",
        pending=frozenset({"Creating", "Updating"}),
    )
    try:
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        runtime = aws("sagemaker-runtime")
        # As the provider's example DAG calls it: a CSV row, no Accept.
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body="9.8,0.4")
        assert answer["ContentType"] == "application/json"
        assert json.loads(answer["Body"].read()) == {"predictions": [{"predicted_label": 1.0}]}
        with pytest.raises(ClientError) as refused:
            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body="1,2,3")
        assert "feature_dim" in str(refused.value)
    finally:
        sagemaker.delete_endpoint(EndpointName=name)


def test_a_transform_job_writes_one_answer_per_record(aws, bucket, knn_data, knn_model) -> None:
    sagemaker = aws("sagemaker")
    name = f"tr-{uuid.uuid4().hex[:8]}"
    source = {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{knn_data}/batch"}
    }
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=knn_model,
        TransformInput={"DataSource": source, "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{bucket}/{knn_data}/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    job = wait_for(
        lambda: sagemaker.describe_transform_job(TransformJobName=name), "TransformJobStatus"
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    body = aws("s3").get_object(Bucket=bucket, Key=f"{knn_data}/{name}/features.csv.out")["Body"]
    labels = [
        prediction["predicted_label"]
        for line in body.read().decode().splitlines()
        if line.strip()
        for prediction in json.loads(line)["predictions"]
    ]
    assert labels == [0.0, 1.0, 2.0]


def knn_tuning(
    aws, bucket: str, prefix: str, name: str, jobs: int, k: tuple[int, int], sample: tuple[int, int]
) -> dict:
    """A Random tuning job of k-NN classifiers on test:accuracy, described once it ended."""
    sagemaker = aws("sagemaker")
    definition = training_definition(bucket, prefix, KNN_IMAGE, ("train", "test"))
    definition["StaticHyperParameters"] = {"predictor_type": "classifier", "feature_dim": "2"}
    ranges = [
        {"Name": "k", "MinValue": str(k[0]), "MaxValue": str(k[1])},
        {"Name": "sample_size", "MinValue": str(sample[0]), "MaxValue": str(sample[1])},
    ]
    config = {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"MetricName": "test:accuracy", "Type": "Maximize"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": jobs},
        "ParameterRanges": {"IntegerParameterRanges": ranges},
    }
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    return wait_for(
        lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        "HyperParameterTuningJobStatus",
        timeout=300,
    )


def test_a_tuning_job_maximizes_test_accuracy(aws, bucket, knn_data) -> None:
    name = f"knn-tune-{uuid.uuid4().hex[:6]}"
    job = knn_tuning(aws, bucket, knn_data, name, 3, k=(1, 40), sample=(1, 90))
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    best = job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert best["MetricName"] == "test:accuracy" and best["Value"] > 0.3


def test_a_tuning_objective_the_algorithm_does_not_emit_is_refused(aws, bucket, knn_data) -> None:
    definition = training_definition(bucket, knn_data, KNN_IMAGE, ("train", "test"))
    definition["StaticHyperParameters"] = {"predictor_type": "classifier", "feature_dim": "2"}
    config = {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"MetricName": "validation:auc", "Type": "Maximize"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "5"}]
        },
    }
    with pytest.raises(ClientError) as refused:
        aws("sagemaker").create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=f"knn-bad-{uuid.uuid4().hex[:6]}",
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition=definition,
        )
    assert "[validation:auc], isn't valid for the" in str(refused.value)
