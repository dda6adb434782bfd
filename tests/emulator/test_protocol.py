"""Requests are checked against botocore's service model as AWS checks them: ``max`` lengths,
``pattern`` and ``enum`` too, which botocore's ParamValidator leaves to the service. Names
become directories, so these checks (and Engine.local_path behind them) keep ``../x`` out of the
file system.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape

from emulator.sagemaker import jobs, protocol
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.server import EmulatorServer
from tests.emulator.conftest import (
    ROLE,
    XGBOOST_IMAGE,
    processing_request,
    wait_for,
)

NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def training_request(**overrides: Any) -> dict[str, Any]:
    request = {
        "TrainingJobName": "job-1",
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p/train"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/p/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def refused(action: str, request: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        protocol.parse_request(action, json.dumps(request).encode())
    return raised.value.message


# --- the validator ------------------------------------------------------------------------
def test_a_64_character_job_name_is_refused_with_aws_message() -> None:
    name = "a" * 64
    assert refused("CreateTrainingJob", training_request(TrainingJobName=name)) == (
        f"1 validation error detected: Value '{name}' at 'trainingJobName' failed to satisfy "
        "constraint: Member must have length less than or equal to 63"
    )


def test_a_63_character_job_name_is_accepted() -> None:
    name = "a" * 63
    body = json.dumps(training_request(TrainingJobName=name)).encode()
    assert protocol.parse_request("CreateTrainingJob", body)["TrainingJobName"] == name


def test_a_path_as_job_name_is_refused_by_the_pattern() -> None:
    assert refused("CreateTrainingJob", training_request(TrainingJobName="../x")) == (
        "1 validation error detected: Value '../x' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_nul_in_a_name_is_refused_and_not_echoed_raw() -> None:
    message = refused("DescribeTrainingJob", {"TrainingJobName": "job\0x"})
    assert "\0" not in message
    assert "Value 'job\\x00x' at 'trainingJobName'" in message


def test_a_nested_channel_name_is_reported_at_its_member_path() -> None:
    request = training_request()
    request["InputDataConfig"][0]["ChannelName"] = "../../x"
    assert refused("CreateTrainingJob", request) == (
        "1 validation error detected: Value '../../x' at "
        "'inputDataConfig.1.member.channelName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[A-Za-z0-9\\.\\-_]+"
    )


def test_an_absolute_variant_name_is_refused() -> None:
    request = {
        "EndpointConfigName": "config",
        "ProductionVariants": [
            {"VariantName": "ok", "ModelName": "m", "InstanceType": "ml.m5.large"},
            {"VariantName": "/tmp/x", "ModelName": "m", "InstanceType": "ml.m5.large"},
        ],
    }
    message = refused("CreateEndpointConfig", request)
    assert message.startswith("1 validation error detected: Value '/tmp/x' at ")
    assert "'productionVariants.2.member.variantName'" in message


def test_an_endpoint_name_with_a_slash_is_refused() -> None:
    message = refused("CreateEndpoint", {"EndpointName": "a/b", "EndpointConfigName": "c"})
    assert message == (
        "1 validation error detected: Value 'a/b' at 'endpointName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_a_list_over_its_max_is_refused() -> None:
    channels = [
        {"ChannelName": f"c{i}", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix"}}}
        for i in range(21)
    ]
    for channel in channels:
        channel["DataSource"]["S3DataSource"]["S3Uri"] = "s3://b/p"
    message = refused("CreateTrainingJob", training_request(InputDataConfig=channels))
    assert message.startswith("1 validation error detected: Value '[{ChannelName=c0, ")
    assert message.endswith(
        "at 'inputDataConfig' failed to satisfy constraint: Member must have length less "
        "than or equal to 20"
    )


def test_a_value_outside_its_enum_is_refused() -> None:
    specification = {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "Streaming"}
    assert refused("CreateTrainingJob", training_request(AlgorithmSpecification=specification)) == (
        "1 validation error detected: Value 'Streaming' at "
        "'algorithmSpecification.trainingInputMode' failed to satisfy constraint: Member must "
        "satisfy enum value set: [Pipe, File, FastFile]"
    )


def test_an_unanchored_pattern_must_match_the_whole_value() -> None:
    # ChannelName's pattern is [A-Za-z0-9\.\-_]+ without ^...$: "train" inside is not enough.
    request = training_request()
    request["InputDataConfig"][0]["ChannelName"] = "train!"
    assert "failed to satisfy constraint" in refused("CreateTrainingJob", request)
    compiled = protocol.compile_pattern("[a-z]+")
    assert compiled is not None
    assert compiled.search("ab!") and not compiled.fullmatch("ab!")


def test_several_errors_are_counted_and_joined() -> None:
    request = training_request(TrainingJobName="bad_name", RoleArn="not-an-arn-but-long-enough")
    message = refused("CreateTrainingJob", request)
    assert message.startswith("2 validation errors detected: Value 'bad_name' at 'trainingJobName'")
    assert "; Value 'not-an-arn-but-long-enough' at 'roleArn' failed" in message


def test_map_keys_and_values_are_reported_at_the_map() -> None:
    request = training_request(Environment={"1BAD": "x", "GOOD": "y" * 513})
    message = refused("CreateTrainingJob", request)
    assert message.startswith("2 validation errors detected: Value '{1BAD=x, GOOD=yyy"), message
    assert "at 'environment' failed to satisfy constraint: Map keys must satisfy constraint: [" in (
        message
    )
    assert "Map value must satisfy constraint: [Member must have length less than or equal" in (
        message
    )


def test_java_unicode_classes_are_translated() -> None:
    # TagKey is ([\p{L}\p{Z}\p{N}_.:/=+\-@]*): letters of any script, not punctuation like "!".
    tags = {"Tags": [{"Key": "équipe 日本 ½", "Value": "ok"}]}
    body = json.dumps(training_request(**tags)).encode()
    assert protocol.parse_request("CreateTrainingJob", body)
    message = refused("CreateTrainingJob", training_request(Tags=[{"Key": "a!", "Value": ""}]))
    assert "at 'tags.1.member.key'" in message
    # A UTF-16 surrogate pair in the Java pattern is one code point beyond the BMP.
    table = protocol.compile_pattern(
        "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
    )
    assert table is not None
    assert table.fullmatch("table \U0001f600") and not table.fullmatch("a\x01")


def all_input_patterns() -> dict[str, list[str]]:
    """Every string shape's pattern reachable from any SageMaker operation's input."""
    model = protocol.service_model()
    patterns: dict[str, list[str]] = {}
    seen: set[str] = set()

    def walk(shape: Shape) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "structure":
            for member in shape.members.values():
                walk(member)
        elif shape.type_name == "list":
            walk(shape.member)
        elif shape.type_name == "map":
            walk(shape.key)
            walk(shape.value)
        elif shape.type_name == "string" and "pattern" in shape.metadata:
            patterns.setdefault(shape.metadata["pattern"], []).append(shape.name)

    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        if shape is not None:
            walk(shape)
    return patterns


def test_the_models_patterns_compile() -> None:
    patterns = all_input_patterns()
    failing = {p: names for p, names in patterns.items() if protocol.compile_pattern(p) is None}
    print(f"{len(failing)} of {len(patterns)} distinct input patterns are not checked: {failing}")
    names = [
        "TrainingJobName",
        "ProcessingJobName",
        "TransformJobName",
        "ModelName",
        "EndpointName",
        "EndpointConfigName",
        "VariantName",
        "ChannelName",
        "EntityName",  # ModelPackageGroupName's shape
        "PipelineName",
        "ExperimentEntityName",
        "PipelineParameterName",
        "TagKey",
        "TagValue",
    ]
    model = protocol.service_model()
    for name in names:
        pattern = model.shape_for(name).metadata["pattern"]
        assert protocol.compile_pattern(pattern) is not None, (name, pattern)
    assert len(patterns) > 100
    assert len(failing) <= 3


def test_validation_is_cheap() -> None:
    model = protocol.operation_model("CreateTrainingJob")
    params = training_request(
        HyperParameters={"objective": "binary:logistic", "num_round": "30"},
        Tags=[{"Key": "project", "Value": "adult income"}],
    )
    protocol.constraint_errors(params, model.input_shape)  # warm the caches
    best = min(
        _timed(lambda: protocol.constraint_errors(params, model.input_shape)) for _ in range(50)
    )
    assert best < 0.001, best


def _timed(call: Any) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# --- confinement --------------------------------------------------------------------------
@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(tmp_path / "data", max_jobs=1)
    yield engine
    engine.shutdown()


def test_local_path_stays_in_the_data_dir(engine: Engine) -> None:
    assert engine.local_path("jobs", "training", "job-1") == (
        engine.data_dir / "jobs" / "training" / "job-1"
    )
    for parts in [
        ("jobs", ".."),
        ("jobs", "training", "../../../victim"),
        ("/etc",),
        ("jobs", "/tmp/x"),
        ("jobs", "a\0b"),
        ("jobs", ""),
        (".",),
    ]:
        with pytest.raises(ValidationError) as raised:
            engine.local_path(*parts)
        assert "'" in raised.value.message


def test_local_path_names_the_offending_part(engine: Engine) -> None:
    with pytest.raises(ValidationError, match=r"'\.\./x'"):
        engine.local_path("jobs", "../x")
    with pytest.raises(ValidationError, match=r"'a\\x00b'"):
        engine.local_path("a\0b")


def test_local_path_refuses_a_symlink_out(engine: Engine, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (engine.data_dir / "jobs").mkdir()
    (engine.data_dir / "jobs" / "link").symlink_to(outside)
    with pytest.raises(ValidationError, match="outside"):
        engine.local_path("jobs", "link", "opt_ml")


def test_confined_allows_the_root_itself_and_refuses_dot_dot(tmp_path: Path) -> None:
    assert jobs.confined(tmp_path, ".") == tmp_path.resolve()
    assert jobs.confined(tmp_path, "input", "data", "train") == tmp_path.resolve() / "input" / (
        "data/train"
    )
    with pytest.raises(ValidationError):
        jobs.confined(tmp_path, "input", "data", "..")


# --- through boto3, against the emulator ----------------------------------------------------
def tree(root: Path) -> set[str]:
    """Every path under ``root``; os.walk shrugs off directories removed meanwhile."""
    found = set()
    for directory, dirs, files in os.walk(root):
        found.update(os.path.join(directory, name) for name in dirs + files)
    return found


@pytest.fixture()
def untouched(emulator: EmulatorServer) -> Iterator[str]:
    """Yields a unique token for the test's names; afterwards no path under the data dir's
    parent may name it, nothing outside the data dir may have changed, and a planted victim
    directory is still there. (Other tests' jobs may still write inside the data dir.)"""
    token = uuid.uuid4().hex[:8]
    data_dir = emulator.engine.data_dir
    parent = data_dir.parent
    victim = parent / f"victim-{token}" / "opt_ml"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("keep")
    before = tree(parent)
    yield token
    time.sleep(0.2)  # a job accepted by mistake would start writing by now
    after = tree(parent)
    changed = before ^ after
    assert not [p for p in changed if token in p], changed
    assert not [p for p in changed if not p.startswith(str(data_dir) + os.sep)], changed
    assert (victim / "keep.txt").read_text() == "keep"
    (victim / "keep.txt").unlink()
    victim.rmdir()
    victim.parent.rmdir()


def client_error(call: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**request)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Message"]


def test_create_training_job_with_a_bad_name_touches_no_file(aws, untouched: str) -> None:
    sagemaker = aws("sagemaker")
    for name in [f"../../../victim-{untouched}", f"x{untouched}" + "a" * 55]:
        message = client_error(
            sagemaker.create_training_job, **training_request(TrainingJobName=name)
        )
        assert "at 'trainingJobName' failed to satisfy constraint" in message
    request = training_request(TrainingJobName=f"ok-{untouched}")
    request["InputDataConfig"][0]["ChannelName"] = f"../../victim-{untouched}"
    message = client_error(sagemaker.create_training_job, **request)
    assert "at 'inputDataConfig.1.member.channelName'" in message


def test_create_processing_job_with_a_bad_name_touches_no_file(aws, untouched: str) -> None:
    sagemaker = aws("sagemaker")
    for name in [f"../../../victim-{untouched}", f"x{untouched}" + "a" * 55]:
        message = client_error(
            sagemaker.create_processing_job, **processing_request(name, ["python3"])
        )
        assert "at 'processingJobName' failed to satisfy constraint" in message


def test_create_endpoint_with_a_bad_name_touches_no_file(aws, untouched: str) -> None:
    sagemaker = aws("sagemaker")
    for name in [f"../../victim-{untouched}", f"x{untouched}" + "a" * 55]:
        message = client_error(
            sagemaker.create_endpoint, EndpointName=name, EndpointConfigName="anything"
        )
        assert "at 'endpointName' failed to satisfy constraint" in message
    variant = {"VariantName": f"/tmp/victim-{untouched}", "ModelName": "m"}
    message = client_error(
        sagemaker.create_endpoint_config,
        EndpointConfigName=f"config-{untouched}",
        ProductionVariants=[{**variant, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )
    assert "at 'productionVariants.1.member.variantName'" in message


def test_a_dot_dot_channel_aws_allows_fails_the_job_inside_its_sandbox(aws) -> None:
    # ChannelName's pattern lets ".." through; the job's sandbox confinement catches it.
    sagemaker = aws("sagemaker")
    name = f"dotdot-{uuid.uuid4().hex[:8]}"
    request = training_request(TrainingJobName=name)
    request["InputDataConfig"][0]["ChannelName"] = ".."
    sagemaker.create_training_job(**request)
    done = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("ClientError: ChannelName: '..'"), done["FailureReason"]
