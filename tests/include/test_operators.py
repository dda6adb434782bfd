"""Attach-or-create decisions (wait, reuse or start the next attempt; never a duplicate, never a
stale reuse), which failures are permanent, and bounded waits: no emulator needed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from include.adult_income.operators import (
    FINGERPRINT_TAG,
    IN_PROGRESS,
    AttachOrCreateProcessingOperator,
    DeployEndpointOperator,
    base_job_name,
    decide_job,
    input_uris,
    is_permanent_failure,
    job_failure,
    registered_version,
    request_fingerprint,
    wait_until_settled,
    with_fingerprint,
)


def not_found(name: str) -> ClientError:
    error = {"Error": {"Code": "ValidationException", "Message": f"Could not find {name}"}}
    return ClientError(error, "DescribeProcessingJob")


def describer(statuses: dict[str, str]):
    calls: list[str] = []

    def describe(name: str) -> dict:
        calls.append(name)
        if name not in statuses:
            raise not_found(name)
        return {"ProcessingJobName": name, "ProcessingJobStatus": statuses[name]}

    describe.calls = calls  # type: ignore[attr-defined]
    return describe


@pytest.mark.parametrize(
    ("existing", "verdict", "name"),
    [
        ({}, "create", "job"),
        ({"job": "InProgress"}, "attach", "job"),
        ({"job": "Stopping"}, "attach", "job"),
        ({"job": "Completed"}, "reuse", "job"),
        ({"job": "Failed"}, "create", "job-a2"),
        ({"job": "Stopped"}, "create", "job-a2"),
        ({"job": "Failed", "job-a2": "InProgress"}, "attach", "job-a2"),
        ({"job": "Failed", "job-a2": "Failed"}, "create", "job-a3"),
        ({"job": "Failed", "job-a2": "Completed"}, "reuse", "job-a2"),
    ],
)
def test_decision_per_existing_attempts(existing: dict, verdict: str, name: str) -> None:
    decided = decide_job("job", describer(existing), "ProcessingJobStatus")
    assert decided[:2] == (verdict, name)


def test_other_errors_are_not_mistaken_for_absence() -> None:
    def describe(name: str) -> dict:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "D")

    with pytest.raises(ClientError):
        decide_job("job", describe, "ProcessingJobStatus")


class FakeRegistry:
    """list_model_packages / describe_model_package over a dict of packages."""

    class Paginator:
        def __init__(self, packages: list[dict]) -> None:
            self.packages = packages

        def paginate(self, **_: object) -> list[dict]:
            summaries = [{"ModelPackageArn": p["ModelPackageArn"]} for p in self.packages]
            return [{"ModelPackageSummaryList": summaries}]

    def __init__(self, packages: list[dict]) -> None:
        self.packages = packages

    def get_paginator(self, name: str) -> Paginator:
        assert name == "list_model_packages"
        return self.Paginator(self.packages)

    def describe_model_package(self, ModelPackageName: str) -> dict:
        return next(p for p in self.packages if p["ModelPackageArn"] == ModelPackageName)


def test_a_training_job_is_registered_at_most_once() -> None:
    registry = FakeRegistry(
        [
            {"ModelPackageArn": "arn:1", "CustomerMetadataProperties": {"training_job": "t-1"}},
            {"ModelPackageArn": "arn:2", "CustomerMetadataProperties": {"training_job": "t-2"}},
        ]
    )
    assert registered_version(registry, "group", "t-2")["ModelPackageArn"] == "arn:2"
    assert registered_version(registry, "group", "t-3") is None


# --- the fingerprint decides reuse ----------------------------------------------------------


def fingerprinted(existing: dict[str, tuple[str, str | None]], wanted: str):
    """describe/fingerprint_of/recorded over {name: (status, recorded fingerprint)}."""
    asked: list[str] = []

    def describe(name: str) -> dict:
        if name not in existing:
            raise not_found(name)
        status, tag = existing[name]
        return {"ProcessingJobName": name, "ProcessingJobStatus": status, "tag": tag}

    def fingerprint_of(name: str) -> str:
        asked.append(name)
        return wanted

    return describe, fingerprint_of, (lambda description: description["tag"]), asked


@pytest.mark.parametrize(
    ("existing", "verdict", "name"),
    [
        ({"job": ("InProgress", "fp-1")}, "attach", "job"),
        ({"job": ("Completed", "fp-1")}, "reuse", "job"),
        ({"job": ("Failed", "fp-1"), "job-a2": ("Completed", "fp-1")}, "reuse", "job-a2"),
        ({"job": ("Completed", "fp-0")}, "create", "job-a2"),
        ({"job": ("InProgress", "fp-0")}, "create", "job-a2"),
        ({"job": ("Completed", None)}, "create", "job-a2"),  # made before fingerprints
        ({"job": ("Completed", "fp-1"), "job-a2": ("Completed", "fp-0")}, "create", "job-a3"),
    ],
)
def test_only_the_same_request_is_attached_or_reused(
    existing: dict, verdict: str, name: str
) -> None:
    describe, fingerprint_of, recorded, _ = fingerprinted(existing, "fp-1")
    decision = decide_job("job", describe, "ProcessingJobStatus", fingerprint_of, recorded)
    assert (decision.verdict, decision.name) == (verdict, name)


def test_a_changed_request_says_so_and_names_the_attempt() -> None:
    existing = {"job": ("Completed", "b" * 64)}
    describe, fingerprint_of, recorded, asked = fingerprinted(existing, "a" * 64)
    decision = decide_job("job", describe, "ProcessingJobStatus", fingerprint_of, recorded)
    assert asked == ["job"]  # compared with the request as it was built for that attempt
    assert decision.note == (
        f"job: request changed (fingerprint {'a' * 12} != {'b' * 12}): starting attempt 2"
    )


def test_a_failed_attempt_is_not_fingerprinted() -> None:
    describe, fingerprint_of, recorded, asked = fingerprinted({"job": ("Stopped", "fp-1")}, "fp-1")
    decision = decide_job("job", describe, "ProcessingJobStatus", fingerprint_of, recorded)
    assert (decision.verdict, decision.name, asked) == ("create", "job-a2", [])


def request(**changes: object) -> dict:
    body = {
        "TrainingJobName": "train-1",
        "HyperParameters": {"num_round": "50", "eta": "0.3"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3Uri": "s3://b/run/data/train"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/run/model"},
        "Tags": [{"Key": "team", "Value": "a"}],
    }
    body.update(changes)
    return body


def test_fingerprint_covers_the_request_and_its_inputs_content() -> None:
    contents = {"s3://b/run/data/train": [["/train.csv", "etag-1"]]}
    base = request_fingerprint(request(), "TrainingJobName", contents)
    assert len(base) == 64 and base == request_fingerprint(
        dict(reversed(list(request().items()))), "TrainingJobName", contents
    )
    # the job's name and labels do not change what it computes
    same = request(TrainingJobName="train-1-a2", Tags=[], ExperimentConfig={"TrialName": "x"})
    assert request_fingerprint(same, "TrainingJobName", contents) == base
    hyper = request(HyperParameters={"num_round": "51", "eta": "0.3"})
    assert request_fingerprint(hyper, "TrainingJobName", contents) != base
    output = request(OutputDataConfig={"S3OutputPath": "s3://b/other"})
    assert request_fingerprint(output, "TrainingJobName", contents) != base
    rewritten = {"s3://b/run/data/train": [["/train.csv", "etag-2"]]}
    assert request_fingerprint(request(), "TrainingJobName", rewritten) != base


def test_inputs_are_what_the_request_reads_never_its_outputs() -> None:
    processing = {
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/evaluate.py"}},
            {"InputName": "test", "S3Input": {"S3Uri": "s3://b/data/test"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/evaluation"}}]},
    }
    assert input_uris(processing) == ["s3://b/code/evaluate.py", "s3://b/data/test"]
    assert input_uris(request()) == ["s3://b/run/data/train"]
    model = {
        "PrimaryContainer": {
            "ModelDataUrl": "s3://b/model.tar.gz",
            "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/code/inference.tar.gz"},
        }
    }
    assert input_uris(model) == ["s3://b/code/inference.tar.gz", "s3://b/model.tar.gz"]


def test_the_fingerprint_tag_replaces_an_older_one_and_keeps_other_tags() -> None:
    tagged = with_fingerprint(request(Tags=[{"Key": FINGERPRINT_TAG, "Value": "old"}]), "new")
    assert tagged["Tags"] == [{"Key": FINGERPRINT_TAG, "Value": "new"}]
    assert with_fingerprint(request(), "x")["Tags"][0] == {"Key": "team", "Value": "a"}


# --- what retries cannot fix ----------------------------------------------------------------


def processing(status: str, reason: str | None = None, exit_message: str | None = None) -> dict:
    description = {"ProcessingJobName": "p", "ProcessingJobStatus": status}
    if reason is not None:
        description["FailureReason"] = reason
    if exit_message is not None:
        description["ExitMessage"] = exit_message
    return description


def training(status: str, reason: str) -> dict:
    return {"TrainingJobName": "t", "TrainingJobStatus": status, "FailureReason": reason}


@pytest.mark.parametrize(
    ("description", "permanent"),
    [
        (training("Failed", "ClientError: Hyperparameter eta: 5 is not in (0, 1]"), True),
        (processing("Failed", "ClientError: AppSpecification has no ContainerEntrypoint"), True),
        (processing("Failed", "AlgorithmError: exit code 2. Last lines of output:\nx"), True),
        (processing("Failed", "AlgorithmError: preprocess: error: no income; exit code 2."), True),
        (
            processing("Failed", "AlgorithmError: See job logs", "preprocess: error: no income"),
            True,
        ),
        (processing("Failed", "AlgorithmError: exit code 1. Last lines of output:\nx"), False),
        (processing("Failed", "AlgorithmError: exit code 20. Last lines"), False),
        (processing("Failed", "AlgorithmError: exit code 137 (killed)"), False),
        (processing("Failed", "InternalServerError: emulator error: disk full"), False),
        (training("Failed", "AlgorithmError: exit code 2"), False),  # no data-error contract
        (training("Failed", "InternalServerError: We encountered an internal error."), False),
        (processing("Stopped", "Stopped by request", "Stopped by request"), False),
        (training("Stopped", "ClientError: MaxRuntimeInSeconds exceeded"), False),
        (processing("Completed", exit_message="rows in: 100"), False),
        (processing("Failed", "AlgorithmError: exit code 1", "  "), False),
    ],
)
def test_permanent_failures_are_client_and_data_errors_only(
    description: dict, permanent: bool
) -> None:
    assert is_permanent_failure(description) is permanent


def test_failure_message_names_job_status_and_reason() -> None:
    error = job_failure("processing", processing("Failed", "AlgorithmError: x", "bad rows"))
    assert type(error) is AirflowFailException
    assert str(error).startswith("processing job p ended Failed: AlgorithmError: x")
    assert "ExitMessage: bad rows" in str(error)
    stopped = job_failure("training", training("Stopped", "Stopped by request"))
    assert type(stopped) is AirflowException
    assert str(stopped) == "training job t ended Stopped: Stopped by request"


class StubHook:
    """The few SageMakerHook calls a create makes, with CreateProcessingJob answering
    ``error``: no emulator can be made to throttle on demand."""

    def __init__(self, error: ClientError) -> None:
        self.error = error
        self.created: list[str] = []

    def describe_processing_job(self, name: str) -> dict:
        raise not_found(name)

    def configure_s3_resources(self, config: dict) -> None:
        pass

    def create_processing_job(self, config: dict, wait_for_completion: bool = True) -> dict:
        self.created.append(config["ProcessingJobName"])
        raise self.error


def stubbed_operator(error: ClientError) -> tuple[AttachOrCreateProcessingOperator, StubHook]:
    def build(planned: dict, context: dict, name: str) -> dict:
        return {
            "ProcessingJobName": name,
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "AppSpecification": {"ImageUri": "image"},
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
        }

    operator = AttachOrCreateProcessingOperator(task_id="preprocess", build_config=build)
    hook = StubHook(error)
    operator.hook = hook  # the provider's hook is a cached_property: this instance's wins
    return operator, hook


CONTEXT = {
    "ti": SimpleNamespace(dag_id="adult_income_pipeline", task_id="preprocess"),
    "run_id": "manual__stub",
}


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateProcessingJob")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ThrottlingException", "Rate exceeded"),
        ("InternalFailure", "We encountered an internal error"),
        ("ServiceUnavailable", "Service unavailable"),
        # another try of this task created the name meanwhile: a retry decides again
        (
            "ValidationException",
            "Job name must be unique ..., and a job with this name already exists",
        ),
    ],
)
def test_transient_create_errors_keep_their_retries(code: str, message: str) -> None:
    operator, hook = stubbed_operator(client_error(code, message))
    with pytest.raises(ClientError) as raised:
        operator.execute(CONTEXT)
    assert raised.value.response["Error"]["Code"] == code
    assert hook.created == [base_job_name(CONTEXT)]


def test_a_malformed_create_fails_without_retry() -> None:
    error = client_error("ValidationException", "1 validation error detected: InstanceType")
    operator, hook = stubbed_operator(error)
    with pytest.raises(AirflowFailException, match=r"ValidationException.*InstanceType"):
        operator.execute(CONTEXT)
    assert hook.created == [base_job_name(CONTEXT)]


# --- every wait is bounded --------------------------------------------------------------------


def test_a_job_wait_times_out_naming_the_job() -> None:
    calls: list[int] = []

    def describe() -> dict:
        calls.append(1)
        return {"ProcessingJobStatus": "InProgress"}

    with pytest.raises(AirflowException, match=r"processing job p is still InProgress after "):
        wait_until_settled(
            describe,
            "ProcessingJobStatus",
            IN_PROGRESS,
            what="processing job p",
            check_interval=0.01,
            max_wait=0.05,
        )
    assert len(calls) >= 2  # it polled, then gave up


class BusyEndpointHook:
    """An endpoint that stays Creating, and no endpoint config yet."""

    def describe_endpoint_config(self, name: str) -> dict:
        raise not_found(name)

    def describe_endpoint(self, name: str) -> dict:
        return {"EndpointName": name, "EndpointStatus": "Creating"}


def test_an_endpoint_wait_times_out_naming_the_endpoint() -> None:
    def build(planned: dict, context: dict, config_name: str) -> dict:
        return {
            "EndpointConfig": {"EndpointConfigName": config_name, "ProductionVariants": []},
            "Endpoint": {"EndpointName": "adult-income", "EndpointConfigName": config_name},
        }

    operator = DeployEndpointOperator(
        task_id="deploy", build_config=build, check_interval=0.01, max_ingestion_time=0.1
    )
    operator.hook = BusyEndpointHook()
    context = {**CONTEXT, "ti": SimpleNamespace(dag_id="adult_income_pipeline", task_id="deploy")}
    with pytest.raises(
        AirflowException,
        match=r"^endpoint adult-income is still Creating after waiting 0\.1s for it "
        r"\(max_ingestion_time\)$",
    ):
        operator.execute(context)
