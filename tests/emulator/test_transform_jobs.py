"""Batch transform over S3 prefixes: one prediction per input line, as AWS writes them."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.conftest import XGBOOST_IMAGE, TrainedModel, image_scores, wait_for


def transform(
    aws, model: str, source: str, output: str, content_type: str | None = "text/csv", **extra
) -> dict:
    sagemaker = aws("sagemaker")
    name = f"tr-{uuid.uuid4().hex[:8]}"
    transform_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
        "SplitType": "Line",
    }
    if content_type is not None:
        transform_input["ContentType"] = content_type
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput=transform_input,
        TransformOutput={"S3OutputPath": output, "AssembleWith": "Line", "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    )
    return wait_for(
        lambda: sagemaker.describe_transform_job(TransformJobName=name), "TransformJobStatus"
    )


def transform_without_content_type(aws, bucket: str, prefix: str, trained_model) -> dict:
    """The built-in model over prefix/in/ into prefix/out/, the request naming no ContentType."""
    source, output = f"s3://{bucket}/{prefix}/in", f"s3://{bucket}/{prefix}/out"
    return transform(aws, trained_model.builtin_model, source, output, content_type=None)


def booster_scores(trained_model: TrainedModel, features: np.ndarray) -> np.ndarray:
    return image_scores(XGBOOST_IMAGE, trained_model.booster_path, features)


def test_transform_over_test_csv_writes_one_prediction_per_line(aws, bucket, trained_model) -> None:
    prefix = f"transform-{uuid.uuid4().hex[:6]}"
    test_csv = trained_model.processed / "test" / "test.csv"
    aws("s3").upload_file(str(test_csv), bucket, f"{prefix}/in/test.csv")
    job = transform(
        aws,
        trained_model.builtin_model,
        f"s3://{bucket}/{prefix}/in",
        f"s3://{bucket}/{prefix}/out",
        # test.csv is label first: send the features, keep the label beside each prediction
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    body = aws("s3").get_object(Bucket=bucket, Key=f"{prefix}/out/test.csv.out")["Body"].read()
    lines = body.decode().splitlines()
    rows = np.loadtxt(test_csv, delimiter=",")
    assert len(lines) == len(rows) == 9049
    pairs = np.array([[float(v) for v in line.split(",")] for line in lines])
    np.testing.assert_array_equal(pairs[:, 0], rows[:, 0])
    np.testing.assert_allclose(pairs[:, 1], booster_scores(trained_model, rows[:, 1:]), atol=1e-6)


def test_transform_of_several_files_names_each_output_after_its_input(
    aws, bucket, trained_model
) -> None:
    prefix = f"transform-{uuid.uuid4().hex[:6]}"
    rows = np.loadtxt(trained_model.processed / "test" / "test.csv", delimiter=",")[:30, 1:]
    for part, chunk in (("a.csv", rows[:10]), ("nested/b.csv", rows[10:])):
        body = "\n".join(",".join(repr(float(v)) for v in row) for row in chunk)
        aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/{part}", Body=body.encode())
    job = transform(
        aws,
        trained_model.builtin_model,
        f"s3://{bucket}/{prefix}/in",
        f"s3://{bucket}/{prefix}/out",
        BatchStrategy="SingleRecord",
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    s3 = aws("s3")
    first = s3.get_object(Bucket=bucket, Key=f"{prefix}/out/a.csv.out")["Body"].read().split()
    second = s3.get_object(Bucket=bucket, Key=f"{prefix}/out/nested/b.csv.out")["Body"].read()
    assert len(first) == 10 and len(second.split()) == 20
    listed = aws("sagemaker").list_transform_jobs(NameContains=job["TransformJobName"])
    assert listed["TransformJobSummaries"][0]["TransformJobStatus"] == "Completed"


def test_bad_input_fails_the_job_naming_the_file_and_the_problem(
    aws, bucket, trained_model
) -> None:
    prefix = f"transform-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/bad.csv", Body=b"1,2,three\n")
    job = transform(
        aws, trained_model.builtin_model, f"s3://{bucket}/{prefix}/in", f"s3://{bucket}/{prefix}/o"
    )
    assert job["TransformJobStatus"] == "Failed"
    assert "bad.csv" in job["FailureReason"] and "not numeric" in job["FailureReason"]


def test_unsupported_filter_and_missing_model_are_refused_at_create(
    aws, bucket, trained_model
) -> None:
    with pytest.raises(ClientError, match="Could not find model"):
        transform(aws, "no-such-model", f"s3://{bucket}/x", f"s3://{bucket}/y")
    with pytest.raises(ClientError, match=r"JSONPath '\$.features' is not emulated"):
        transform(
            aws,
            trained_model.builtin_model,
            f"s3://{bucket}/x",
            f"s3://{bucket}/y",
            DataProcessing={"InputFilter": "$.features"},
        )


def test_input_without_content_type_is_read_as_libsvm(aws, bucket, trained_model) -> None:
    prefix = f"transform-{uuid.uuid4().hex[:6]}"
    rows = np.loadtxt(trained_model.processed / "test" / "test.csv", delimiter=",")[:25]
    # label index:value ..., every feature written out so that none is missing
    lines = [
        f"{int(row[0])} " + " ".join(f"{i}:{float(v)!r}" for i, v in enumerate(row[1:]))
        for row in rows
    ]
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/x.libsvm", Body="\n".join(lines))
    job = transform_without_content_type(aws, bucket, prefix, trained_model)
    assert "ContentType" not in job["TransformInput"]
    # What the service fills in for members the request left out:
    assert job["TransformInput"]["CompressionType"] == "None"
    assert job["TransformOutput"]["KmsKeyId"] == ""
    assert job["DataProcessing"] == {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}
    assert (job["MaxPayloadInMB"], job["MaxConcurrentTransforms"]) == (6, 1)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    body = aws("s3").get_object(Bucket=bucket, Key=f"{prefix}/out/x.libsvm.out")["Body"].read()
    served = np.array([float(v) for v in body.decode().split()])
    np.testing.assert_allclose(served, booster_scores(trained_model, rows[:, 1:]), atol=1e-6)


def test_csv_without_content_type_fails_naming_libsvm(aws, bucket, trained_model) -> None:
    prefix = f"transform-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/x.csv", Body=b"0.5,1.5,2.5\n")
    job = transform_without_content_type(aws, bucket, prefix, trained_model)
    assert job["TransformJobStatus"] == "Failed"
    assert "ClientError: x.csv: the model answered 415" in job["FailureReason"]
    assert "no ContentType was sent: LIBSVM assumed" in job["FailureReason"]
