"""Endpoint configs, endpoints and SageMaker Runtime InvokeEndpoint, through real boto3 clients."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import tarfile
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    XGBOOST_IMAGE,
    TrainedModel,
    image_scores,
    one_variant,
    tar_bytes,
    training_request,
    wait_for,
)
from tests.scripts.conftest import ADULT_CSV, load_script


def wait_for_endpoint(sagemaker, name: str, timeout: float = 120) -> dict:
    """The endpoint's description once it is no longer Creating or Updating."""
    return wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=name),
        "EndpointStatus",
        timeout,
        pending=frozenset({"Creating", "Updating"}),
    )


def deploy(sagemaker, model: str, *, variant: str = "AllTraffic", instances: int = 1) -> str:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=one_variant(model, variant, instances),
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    described = wait_for_endpoint(sagemaker, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


@pytest.fixture(scope="module")
def test_rows(trained_model: TrainedModel) -> np.ndarray:
    """100 rows of test.csv, label first."""
    return np.loadtxt(trained_model.processed / "test" / "test.csv", delimiter=",")[:100]


@pytest.fixture(scope="module")
def builtin_endpoint(aws, trained_model: TrainedModel) -> str:
    return deploy(aws("sagemaker"), trained_model.builtin_model, instances=2)


@pytest.fixture(scope="module")
def script_endpoint(aws, trained_model: TrainedModel) -> str:
    return deploy(aws("sagemaker"), trained_model.script_model)


def booster_scores(trained_model: TrainedModel, features: np.ndarray) -> np.ndarray:
    return image_scores(XGBOOST_IMAGE, trained_model.booster_path, features)


def invoke(aws, endpoint: str, body: str | bytes, content_type: str, accept: str = "text/csv"):
    return aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=content_type, Accept=accept
    )


def test_builtin_endpoint_matches_the_booster_on_100_rows(
    aws, trained_model, builtin_endpoint, test_rows
) -> None:
    features = test_rows[:, 1:]
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in features)
    response = invoke(aws, builtin_endpoint, body, "text/csv")
    served = np.array([float(line) for line in response["Body"].read().decode().splitlines()])
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert len(served) == 100
    np.testing.assert_allclose(served, booster_scores(trained_model, features), atol=1e-6)


def test_builtin_endpoint_accepts_json_and_answers_json(
    aws, trained_model, builtin_endpoint, test_rows
) -> None:
    features = test_rows[:5, 1:]
    payload = {"instances": [{"features": row.tolist()} for row in features]}
    response = invoke(
        aws, builtin_endpoint, json.dumps(payload), "application/json", "application/json"
    )
    scores = [p["score"] for p in json.loads(response["Body"].read())["predictions"]]
    np.testing.assert_allclose(scores, booster_scores(trained_model, features), atol=1e-6)


def test_builtin_endpoint_refuses_rows_with_the_label_column(
    aws, builtin_endpoint, test_rows
) -> None:
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in test_rows[:3])
    with pytest.raises(ClientError) as caught:
        invoke(aws, builtin_endpoint, body, "text/csv")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "without the label column" in error["Error"]["Message"]


def libsvm_lines(features: np.ndarray) -> str:
    """Every feature written out (zeros too, so none is missing), zero-based as 1.7-1 reads."""
    return "\n".join(" ".join(f"{i}:{float(v)!r}" for i, v in enumerate(row)) for row in features)


def test_builtin_endpoint_reads_a_request_without_content_type_as_libsvm(
    aws, trained_model, builtin_endpoint, test_rows
) -> None:
    features = test_rows[:10, 1:]
    runtime = aws("sagemaker-runtime")
    # A label before the features, as LIBSVM files have it: the container ignores it.
    body = "\n".join(f"1 {line}" for line in libsvm_lines(features).splitlines())
    response = runtime.invoke_endpoint(EndpointName=builtin_endpoint, Body=body)
    served = np.array([float(v) for v in response["Body"].read().decode().split()])
    assert response["ContentType"] == "text/csv"  # no Accept: the container's default
    np.testing.assert_allclose(served, booster_scores(trained_model, features), atol=1e-6)


def test_builtin_endpoint_reads_csv_without_content_type_as_libsvm_and_says_so(
    aws, builtin_endpoint, test_rows
) -> None:
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in test_rows[:2, 1:])
    with pytest.raises(ClientError) as caught:
        aws("sagemaker-runtime").invoke_endpoint(EndpointName=builtin_endpoint, Body=body)
    error = caught.value.response
    assert error["OriginalStatusCode"] == 415
    assert "libsvm" in error["OriginalMessage"].lower()
    assert "no ContentType was sent" in error["OriginalMessage"]


def test_builtin_endpoint_refuses_a_csv_label_size_other_than_1(
    aws, builtin_endpoint, test_rows
) -> None:
    body = ",".join(repr(float(v)) for v in test_rows[0, 1:])
    with pytest.raises(ClientError) as caught:
        invoke(aws, builtin_endpoint, body, "text/csv;label_size=2")
    assert caught.value.response["OriginalStatusCode"] == 415
    assert "label_size must be equal to 1" in caught.value.response["OriginalMessage"]


def test_script_endpoint_without_accept_answers_the_toolkit_default_json(
    aws, script_endpoint, raw_records
) -> None:
    response = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=script_endpoint,
        Body=raw_records.head(3).to_csv(index=False),
        ContentType="text/csv",
    )
    assert response["ContentType"] == "application/json"
    assert len(json.loads(response["Body"].read())["predictions"]) == 3


DEFAULT_HANDLERS_SCRIPT = b"""
import os
import xgboost as xgb


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster
"""


@pytest.fixture(scope="module")
def default_handlers_endpoint(aws, bucket, trained_model: TrainedModel) -> str:
    """A script that defines model_fn only: the toolkit's default handlers do the rest."""
    sagemaker = aws("sagemaker")
    name = f"defaults-{uuid.uuid4().hex[:6]}"
    key = f"{name}/sourcedir.tar.gz"
    aws("s3").put_object(
        Bucket=bucket, Key=key, Body=tar_bytes({"serve.py": DEFAULT_HANDLERS_SCRIPT})
    )
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": trained_model.model_data_url,
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{key}",
                "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            },
        },
    )
    return deploy(sagemaker, name)


def test_default_handlers_read_csv_and_answer_the_environment_s_default_accept(
    aws, trained_model, default_handlers_endpoint, test_rows
) -> None:
    features = test_rows[:4, 1:]
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in features)
    response = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=default_handlers_endpoint, Body=body, ContentType="text/csv"
    )
    # SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, from the model's Environment, chose CSV.
    assert response["ContentType"] == "text/csv"
    served = [float(v) for v in response["Body"].read().decode().split()]
    np.testing.assert_allclose(served, booster_scores(trained_model, features), atol=1e-6)


def test_default_handlers_without_content_type_answer_as_the_toolkit_does(
    aws, default_handlers_endpoint
) -> None:
    with pytest.raises(ClientError) as caught:
        aws("sagemaker-runtime").invoke_endpoint(
            EndpointName=default_handlers_endpoint, Body=b"1,2,3"
        )
    error = caught.value.response
    # The XGBoost container's script-mode Transformer (sagemaker-containers) answers its default
    # decoder's UnsupportedFormatError with 415.
    assert error["OriginalStatusCode"] == 415
    assert "Content type None is not supported by this framework" in error["OriginalMessage"]


@pytest.fixture(scope="module")
def raw_records() -> pd.DataFrame:
    frame = pd.read_csv(ADULT_CSV, dtype=str, keep_default_na=False)
    return frame[~(frame == "?").any(axis=1)].head(100)


def test_raw_records_through_inference_py_agree_with_the_preprocessed_rows(
    aws, trained_model, script_endpoint, builtin_endpoint, raw_records
) -> None:
    schema = json.loads((trained_model.processed / "schema" / "schema.json").read_text())
    encoded = load_script("preprocess").encode(raw_records, schema)
    expected_body = "\n".join(",".join(repr(float(v)) for v in row) for row in encoded)
    expected = invoke(aws, builtin_endpoint, expected_body, "text/csv")["Body"].read().decode()

    raw_csv = invoke(aws, script_endpoint, raw_records.to_csv(index=False), "text/csv")
    raw_json = invoke(
        aws,
        script_endpoint,
        json.dumps({"instances": raw_records.to_dict(orient="records")}),
        "application/json",
        "application/json",
    )
    served_csv = [float(v) for v in raw_csv["Body"].read().decode().split()]
    served_json = json.loads(raw_json["Body"].read())["predictions"]
    np.testing.assert_allclose(served_csv, [float(v) for v in expected.split()], atol=1e-6)
    np.testing.assert_allclose([p["score"] for p in served_json], served_csv, atol=1e-6)
    assert {p["label"] for p in served_json} <= {">50K", "<=50K"}


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ({"age": "forty"}, "field 'age' is not a number"),
        ({"hours.per.week": None}, "missing field(s): hours.per.week"),
    ],
)
def test_a_malformed_record_gets_a_4xx_naming_the_field(
    aws, script_endpoint, raw_records, record, named
) -> None:
    row = raw_records.iloc[0].to_dict()
    for key, value in record.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    with pytest.raises(ClientError) as caught:
        invoke(aws, script_endpoint, json.dumps([row]), "application/json")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400
    assert named in error["OriginalMessage"]


def test_unsupported_content_type_is_415_from_the_model(aws, script_endpoint) -> None:
    with pytest.raises(ClientError) as caught:
        invoke(aws, script_endpoint, b"\x00\x01", "application/x-npy")
    assert caught.value.response["OriginalStatusCode"] == 415


def test_a_model_that_cannot_load_fails_the_endpoint_with_a_reason(aws, bucket) -> None:
    sagemaker = aws("sagemaker")
    key = f"broken-{uuid.uuid4().hex[:6]}/model.tar.gz"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=tar_bytes({"xgboost-model": b"not a model"}))
    model = key.split("/")[0]
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/{key}"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=model, ProductionVariants=one_variant(model, "v")
    )
    sagemaker.create_endpoint(EndpointName=model, EndpointConfigName=model)
    described = wait_for_endpoint(sagemaker, model)
    assert described["EndpointStatus"] == "Failed"
    assert "no loadable XGBoost booster" in described["FailureReason"]
    with pytest.raises(ClientError, match="not found"):
        invoke(aws, model, "1,2", "text/csv")
    with pytest.raises(ClientError, match="Cannot update failed endpoint"):
        sagemaker.update_endpoint(EndpointName=model, EndpointConfigName=model)
    # The container's output is in CloudWatch Logs even though it never served.
    logged = endpoint_log(aws, model, lambda events: "booster" in "".join(events))
    assert [stream.split("/")[0] for stream in logged] == ["v"]


def endpoint_log(aws, endpoint: str, done, timeout: float = 30) -> dict[str, list[str]]:
    """Stream -> messages of /aws/sagemaker/Endpoints/<endpoint>, once ``done(messages)``."""
    logs = aws("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list[str]] = {}
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
                name = stream["logStreamName"]
                events = logs.get_log_events(
                    logGroupName=group, logStreamName=name, startFromHead=True
                )["events"]
                found[name] = [event["message"] for event in events]
        if found and all(done(messages) for messages in found.values()):
            return found
        assert time.monotonic() < deadline, f"{group} holds {found}"
        time.sleep(0.5)


def test_each_instance_logs_to_its_own_stream_as_sagemaker_names_it(aws, builtin_endpoint) -> None:
    logged = endpoint_log(aws, builtin_endpoint, lambda events: len(events) > 0)
    assert len(logged) == 2  # two instances
    for stream, messages in logged.items():
        variant, instance = stream.split("/")
        assert variant == "AllTraffic"
        assert re.fullmatch(r"i-[0-9a-f]{17}", instance), instance
        assert messages[0].startswith("[emulator] environment sagemaker-xgboost:")


def test_update_swaps_the_model_without_refusing_requests(aws, trained_model, test_rows) -> None:
    sagemaker = aws("sagemaker")
    endpoint = deploy(sagemaker, trained_model.builtin_model, variant="blue")
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{endpoint}-green",
        ProductionVariants=one_variant(trained_model.builtin_model, "green"),
    )
    body = ",".join(repr(float(v)) for v in test_rows[0, 1:])
    variants: list[str] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            try:
                variants.append(invoke(aws, endpoint, body, "text/csv")["InvokedProductionVariant"])
            except Exception as exc:
                errors.append(exc)

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        time.sleep(0.2)
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-green")
        assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
        described = wait_for_endpoint(sagemaker, endpoint)
        time.sleep(0.2)
    finally:
        stop.set()
        caller.join()
    assert errors == []
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == f"{endpoint}-green"
    assert variants[0] == "blue" and variants[-1] == "green"
    # Once green answered, blue never did again: one swap, no flapping.
    first_green = variants.index("green")
    assert set(variants[first_green:]) == {"green"}


def test_describe_list_tags_and_delete(aws, trained_model) -> None:
    sagemaker = aws("sagemaker")
    endpoint = deploy(sagemaker, trained_model.builtin_model)
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert (
        described["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == XGBOOST_IMAGE
    )
    config = sagemaker.describe_endpoint_config(EndpointConfigName=f"{endpoint}-config")
    assert config["ProductionVariants"][0]["ModelName"] == trained_model.builtin_model
    listed = sagemaker.list_endpoints(NameContains=endpoint, StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [endpoint]
    sagemaker.add_tags(ResourceArn=described["EndpointArn"], Tags=[{"Key": "team", "Value": "ml"}])
    assert sagemaker.list_tags(ResourceArn=described["EndpointArn"])["Tags"] == [
        {"Key": "team", "Value": "ml"}
    ]
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
    sagemaker.delete_endpoint(EndpointName=endpoint)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName=endpoint)
    with pytest.raises(ClientError, match="not found"):
        invoke(aws, endpoint, "1", "text/csv")
    sagemaker.delete_endpoint_config(EndpointConfigName=f"{endpoint}-config")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.describe_endpoint_config(EndpointConfigName=f"{endpoint}-config")


def test_endpoint_config_refuses_a_missing_model(aws) -> None:
    with pytest.raises(ClientError, match='Could not find model "nope"'):
        aws("sagemaker").create_endpoint_config(
            EndpointConfigName=f"c-{uuid.uuid4().hex[:6]}",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "nope",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )


def test_provider_endpoint_operator_creates_then_updates(aws, trained_model, connection) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator

    name = f"op-ep-{uuid.uuid4().hex[:6]}"

    def config(suffix: str) -> dict:
        return {
            "EndpointConfig": {
                "EndpointConfigName": f"{name}-{suffix}",
                "ProductionVariants": [
                    {
                        "VariantName": suffix,
                        "ModelName": trained_model.builtin_model,
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
            },
            "Endpoint": {"EndpointName": name, "EndpointConfigName": f"{name}-{suffix}"},
        }

    for suffix in ("first", "second"):  # the second "create" finds it and updates instead
        operator = SageMakerEndpointOperator(
            task_id=f"deploy-{suffix}",
            config=config(suffix),
            aws_conn_id=connection,
            check_interval=1,
            operation="create",
        )
        result = operator.execute({})
        assert result["Endpoint"]["EndpointStatus"] == "InService"
        assert result["Endpoint"]["EndpointConfigName"] == f"{name}-{suffix}"


def test_oversized_invoke_body_is_refused_before_it_is_read(emulator) -> None:
    import socket

    host, port = "127.0.0.1", emulator.port
    with socket.create_connection((host, port), timeout=10) as sock:
        # Declares 7 MB and sends none of it: an answer proves the body was never awaited.
        sock.sendall(
            b"POST /endpoints/any-endpoint/invocations HTTP/1.1\r\n"
            + f"Host: {host}:{port}\r\n".encode()
            + b"Content-Type: text/csv\r\nContent-Length: 7340032\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(4096):  # the server closes the connection after answering
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 400")
    assert "exceeds the 6 MB limit" in answer


XGBOOST_1_0_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3"


def test_a_1_0_1_model_pickled_by_its_container_is_served(aws, bucket, tmp_path) -> None:
    """1.0-1 trains a pickled Booster; its model server unpickles it, as serve_utils does."""
    prefix = f"pickled-{uuid.uuid4().hex[:6]}"
    rows = np.array([[(i % 7) / 7, (i % 5) / 5] for i in range(40)])
    body = "".join(f"{2 * a + b:.4f},{a:.4f},{b:.4f}\n" for a, b in rows)
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/train/train.csv", Body=body)
    sagemaker, job = aws("sagemaker"), f"{prefix}-train"
    hyperparameters = {"num_round": "5", "objective": "reg:linear", "silent": "1"}
    request = training_request(job, bucket, prefix, hyperparameters, XGBOOST_1_0_1, ("train",))
    del request["InputDataConfig"][0]["ContentType"]  # the channel as this test has always sent it
    sagemaker.create_training_job(**request)
    done = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=job), "TrainingJobStatus"
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model_data_url = done["ModelArtifacts"]["S3ModelArtifacts"]
    archive = tmp_path / "model.tar.gz"
    aws("s3").download_file(bucket, model_data_url.split("/", 3)[3], str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "xgboost-model").read_bytes().startswith(b"\x80")  # a pickle
    sagemaker.create_model(
        ModelName=f"{prefix}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_1_0_1, "ModelDataUrl": model_data_url},
    )
    endpoint = deploy(sagemaker, f"{prefix}-model")
    try:
        features = rows[:6]
        text = "\n".join(",".join(repr(float(v)) for v in row) for row in features)
        response = invoke(aws, endpoint, text, "text/csv")
        served = [float(line) for line in response["Body"].read().decode().splitlines()]
        expected = image_scores(XGBOOST_1_0_1, tmp_path / "xgboost-model", features)
        np.testing.assert_allclose(served, expected, atol=1e-6)
        # and the model learned 2a + b, roughly, in 5 rounds
        np.testing.assert_allclose(served, 2 * features[:, 0] + features[:, 1], atol=0.6)
    finally:
        sagemaker.delete_endpoint(EndpointName=endpoint)


# An inference script whose import needs what requirements.txt names (a wheel beside it).
USES_A_SERVING_REQUIREMENT = b"""
import serving_dep_probe


def model_fn(model_dir):
    return serving_dep_probe.VALUE


def transform_fn(model, body, content_type, accept):
    return '{"value": %d, "from": "%s"}' % (model, serving_dep_probe.__file__), accept
"""


def code_in_archive_model(aws, bucket, code: dict[str, bytes]) -> str:
    """A model whose model.tar.gz holds the inference code under code/, as SDK 2 repacks it."""
    name = f"reqs-{uuid.uuid4().hex[:6]}"
    key = f"{name}/model.tar.gz"
    files = {f"code/{path}": data for path, data in code.items()}
    aws("s3").put_object(Bucket=bucket, Key=key, Body=tar_bytes(files))
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/{key}",
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    return name


def test_the_inference_codes_requirements_txt_is_installed_per_instance(aws, bucket) -> None:
    """Both containers' model servers pip-install requirements.txt beside the inference script
    before importing it (sagemaker-containers' import_module); each instance in its own
    overlay, the image's shared environment unchanged."""
    from emulator import environments
    from tests.emulator.test_training_jobs import tiny_wheel

    wheel = "serving_dep_probe-1.0-py3-none-any.whl"
    model = code_in_archive_model(
        aws,
        bucket,
        {
            "serve.py": USES_A_SERVING_REQUIREMENT,
            "requirements.txt": f"numpy\n./{wheel}\n".encode(),
            wheel: tiny_wheel("serving_dep_probe", "VALUE = 7\n"),
        },
    )
    endpoint = deploy(aws("sagemaker"), model, instances=2)
    response = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=b"1", ContentType="text/csv", Accept="application/json"
    )
    answer = json.loads(response["Body"].read())
    assert answer["value"] == 7
    # Installed for the instance that answered (each has its own), not into the image.
    assert "/python-overlays/instance-" in answer["from"], answer
    python = environments.environment_for(XGBOOST_IMAGE).python
    probe = subprocess.run(
        [python, "-c", "import serving_dep_probe"], capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0 and "No module named 'serving_dep_probe'" in probe.stderr


def test_a_serving_requirement_that_cannot_be_installed_fails_the_endpoint(aws, bucket) -> None:
    model = code_in_archive_model(
        aws, bucket, {"serve.py": USES_A_SERVING_REQUIREMENT, "requirements.txt": b"./gone.whl\n"}
    )
    sagemaker = aws("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=model, ProductionVariants=one_variant(model, "v")
    )
    sagemaker.create_endpoint(EndpointName=model, EndpointConfigName=model)
    described = wait_for_endpoint(sagemaker, model)
    assert described["EndpointStatus"] == "Failed"
    assert "InstallModuleError: ExitCode 1" in described["FailureReason"], described
