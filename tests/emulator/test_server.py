"""The endpoint itself: health, dispatch to moto and to the engine, loopback-only."""

from __future__ import annotations

import json
import urllib.request

import pytest

from emulator.server import EmulatorServer


def test_health_answers_json(emulator: EmulatorServer) -> None:
    with urllib.request.urlopen(f"{emulator.url}/_emulator/health") as response:
        assert response.status == 200
        body = json.load(response)
    assert body["status"] == "ok"
    assert "sagemaker" in body["services"]


def test_s3_sts_and_logs_are_served_by_moto(aws) -> None:
    aws("s3").create_bucket(Bucket="dispatch-check")
    aws("s3").put_object(Bucket="dispatch-check", Key="a/b.txt", Body=b"payload")
    body = aws("s3").get_object(Bucket="dispatch-check", Key="a/b.txt")["Body"].read()
    assert body == b"payload"
    assert aws("sts").get_caller_identity()["Account"] == "123456789012"
    aws("logs").create_log_group(logGroupName="/dispatch/check")
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/dispatch")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/dispatch/check"]


def test_malformed_sagemaker_request_is_refused_by_botocore_model(emulator, aws) -> None:
    # boto3 validates client-side too; bypass it to prove the server checks on its own.
    request = urllib.request.Request(
        emulator.url,
        data=json.dumps({"ProcessingJobName": 7}).encode(),
        headers={
            "X-Amz-Target": "SageMaker.DescribeProcessingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 400
    error = json.load(raised.value)
    assert error["__type"] == "ValidationException"
    assert "ProcessingJobName" in error["message"]


def test_unknown_operation_is_named(emulator) -> None:
    request = urllib.request.Request(
        emulator.url,
        data=b"{}",
        headers={"X-Amz-Target": "SageMaker.NoSuchThing"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert json.load(raised.value)["__type"] == "UnknownOperationException"


def test_non_loopback_host_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        EmulatorServer(tmp_path, host="0.0.0.0", port=0)
