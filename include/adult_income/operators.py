"""The provider's SageMaker operators, made safe to retry, clear and backfill (attach-or-create),
and honest about how their jobs ended.

Each job's name derives from (dag_id, run_id, task_id). Before creating, the operator looks at
the attempts that exist under that name and at the request it would send now:

- the newest attempt is InProgress/Stopping and runs this same request -> wait for it (attach);
- it is Completed with this same request -> reuse it, no new job;
- its request differs (see "Request fingerprints" below), or it is Failed/Stopped -> start the
  next attempt (``-a2``, ``-a3`` ...); a running attempt whose request is out of date is stopped
  first, as both would write the same outputs;
- none exists -> create attempt 1.

**The request.** ``config`` is the request as the run planned it (in the DAG, a template over
prepare_run's XCom, rendered as a native object), so the UI's Rendered Template tab shows it
before the task runs; once it has run, the tab shows the very request this task sent
(``overwrite_rtif_after_execution``). ``build_config(planned, context, name)`` turns the planned
request into the one sent under the attempt's ``name``: by default it only names it; a task
whose request depends on an upstream task's result binds that too (tasks.py). A planned
``S3Operations`` block (the provider's own: files to upload) is run first, before the request
is fingerprinted, so each job task uploads its script as it is now. The provider's "timestamp"
renaming is switched off (``action_if_job_exists="fail"``): a name decided here is the name used.
``check_interval`` is templated too, so the poll interval is the run's setting.

**How a job ends.** Created or attached, a job is waited for the same way: deferred to the
provider's SageMakerTrigger when the operator is deferrable (and resumed in
``execute_complete``), else polled. Either way the same ``finish`` reads the final description:
Completed returns it; Stopped or Failed fails the task with the job's name, status and
FailureReason (the hook's ``check_status`` counts only Failed as failure, so a Stopped job would
pass: apache/airflow#42423). Every wait is bounded by ``max_ingestion_time``.

**What retries cannot fix** fails at once (AirflowFailException, no retry): a CreateX that
SageMaker refuses as malformed (ValidationException), and a job whose failure
``is_permanent_failure`` marks as the request's or the data's fault. Throttling, 5xx answers
and jobs that failed on SageMaker's side keep their retries.

**Request fingerprints.** A stable hash of what decides a job's result is recorded on it as the
tag ``adult-income:request-fingerprint``: the request body (image, entrypoint and arguments,
inputs, hyperparameters, resources, environment, output locations) minus its own name and minus
fields that only label it (Tags, ExperimentConfig), plus the content identity (key and ETag) of
every S3 object the request reads. The content part is what makes "fix evaluate.py, clear
evaluate" run again: each job task uploads its script to the same per-run key before building
its request (the planned ``S3Operations``), so the request body alone does not change. Listing the
objects the request points at, rather than recording hashes of the scripts, also covers data
an upstream task rewrites in place (a new preprocess attempt writes new CSVs under the same
URIs that training reads) and works for any builder, at the cost of one ListObjectsV2 per
input: no object is downloaded. Output
locations are compared by URI only: their content is the job's result, not its input. A job
without the tag (from an older version of this file) counts as changed. Models and endpoint
configs, which cannot change in place either, are fingerprinted the same way: a changed one
gets the next name (``-a2`` ...), so a new model reaches the endpoint through a new config.
The fingerprint sees what SageMaker would run: the script as the task just uploaded it.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import io
import json
import math
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import LogState
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerProcessingOperator,
    SageMakerRegisterModelVersionOperator,
    SageMakerStartPipelineOperator,
    SageMakerTrainingOperator,
    SageMakerTuningOperator,
    serialize,
)
from airflow.providers.amazon.aws.triggers.sagemaker import (
    SageMakerPipelineTrigger,
    SageMakerTrigger,
)
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from include.adult_income import names, sagemaker_requests

# (planned request, context, name) -> the request sent under that name
ConfigBuilder = Callable[[dict[str, Any], Any, str], dict[str, Any]]
IN_PROGRESS = {"InProgress", "Stopping"}
ENDPOINT_BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
REUSABLE = {"Completed"}
MAX_ATTEMPTS = 20
FINGERPRINT_TAG = "adult-income:request-fingerprint"
# Request fields that name or label a job without changing what it computes. The job's own name
# is left out as well (each operator knows its key): attempts differ by name only.
NOT_FINGERPRINTED = frozenset({"Tags", "ExperimentConfig"})
# A model or an endpoint config has no status: one that exists is as final as a Completed job.
# decide_job reads this key, which the describe wrappers below add.
EXISTS_STATUS = "AttemptStatus"
# The jobs stop themselves at MaxRuntimeInSeconds (sagemaker_requests.py); twice that leaves room
# for instance start-up and the S3 copies before and after, and bounds every job wait.
DEFAULT_MAX_WAIT_SECONDS = 2 * sagemaker_requests.MAX_RUNTIME_SECONDS
# Creating or updating an endpoint takes minutes on AWS; an hour means something is wrong.
ENDPOINT_MAX_WAIT_SECONDS = 3600
# A deferral's own timeout is a backstop only: the trigger gives up after max_ingestion_time
# and its "timeout" event resumes the task into a message that names the job.
DEFER_SLACK_SECONDS = 300
# The status member of each kind of job's description.
STATUS_KEYS = (
    "ProcessingJobStatus",
    "TrainingJobStatus",
    "TransformJobStatus",
    "HyperParameterTuningJobStatus",
)
# A processing script's "bad data" exit (include/scripts/*.py BAD_INPUT = 2), as the emulator
# words it in FailureReason; \b keeps exit code 20 or 255 out.
DATA_ERROR_EXIT = re.compile(r"\bexit code 2\b")


def is_not_found(error: ClientError) -> bool:
    # SageMaker answers "no such job/model" with ValidationException, not ResourceNotFound.
    return error.response.get("Error", {}).get("Code") in {
        "ValidationException",
        "ResourceNotFound",
    }


# --- how a job ended ------------------------------------------------------------------------


def job_status(description: Mapping[str, Any]) -> str | None:
    return next((description[key] for key in STATUS_KEYS if key in description), None)


def is_permanent_failure(description: Mapping[str, Any]) -> bool:
    """Whether a job that ended this way would end the same way on a retry.

    Permanent (the request or the data is wrong; the task fails without retrying):

    - a Failed job whose FailureReason starts with ``ClientError``: SageMaker's class for the
      caller's faults (invalid hyperparameters, a channel it cannot read, an unknown image), and
      the one the built-in algorithms and the emulator use;
    - a Failed processing job whose script reported a data error. The project's scripts exit
      with code 2 on bad input (BAD_INPUT in include/scripts/preprocess.py) and preprocess.py
      writes its one-line ``preprocess: error: ...`` to /opt/ml/output/message, which SageMaker
      returns as ``ExitMessage``. So a Failed processing job with an ExitMessage, or with
      ``exit code 2`` in its FailureReason (how the emulator reports the exit), is one.

    Everything else keeps its retries: AlgorithmError with any other exit code (a crash, an
    out-of-memory kill), ``InternalServerError``, capacity errors. A Stopped job is not
    permanent either: MaxRuntimeInSeconds on a slow instance may pass next time, and a retry
    starts a new attempt (mark the task failed to stop for good).
    """
    if job_status(description) != "Failed":
        return False
    reason = (description.get("FailureReason") or "").lstrip()
    if reason.startswith("ClientError"):
        return True
    if "ProcessingJobStatus" in description:
        exit_message = (description.get("ExitMessage") or "").strip()
        return bool(exit_message) or DATA_ERROR_EXIT.search(reason) is not None
    return False


def job_failure(label: str, description: Mapping[str, Any]) -> AirflowException:
    """The task's error for a job that did not complete: its name, status and reason."""
    name = (
        description.get("ProcessingJobName")
        or description.get("TrainingJobName")
        or description.get("HyperParameterTuningJobName")
        or "?"
    )
    status = job_status(description)
    reason = description.get("FailureReason") or "no FailureReason given"
    message = f"{label} job {name} ended {status}: {reason}"
    exit_message = (description.get("ExitMessage") or "").strip()
    if exit_message and exit_message not in reason:
        message += f" (ExitMessage: {exit_message})"
    if is_permanent_failure(description):
        return AirflowFailException(
            f"{message} -- a request or data error that no retry can fix: not retrying"
        )
    return AirflowException(message)


def is_malformed_request(error: ClientError) -> bool:
    """A CreateX refused as malformed. "already exists" is the exception: another try of this
    task created the name meanwhile, and a retry decides again (and attaches)."""
    details = error.response.get("Error", {})
    message = str(details.get("Message", "")).lower()
    return details.get("Code") == "ValidationException" and "already exist" not in message


def create_or_fail(create: Callable[[], Any], what: str) -> Any:
    """Run a CreateX call; a malformed request fails the task without retries."""
    try:
        return create()
    except ClientError as error:
        if is_malformed_request(error):
            message = error.response.get("Error", {}).get("Message", str(error))
            raise AirflowFailException(
                f"SageMaker refused to create {what} (ValidationException): {message}"
            ) from error
        raise


def wait_until_settled(
    describe: Callable[[], dict[str, Any]],
    status_key: str,
    busy: set[str],
    *,
    what: str,
    check_interval: float,
    max_wait: float,
    limit: str = "max_ingestion_time",
    on_poll: Callable[[dict[str, Any]], None] | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Poll ``describe`` until its status leaves ``busy``; no longer than ``max_wait`` seconds.

    The caller judges the final status; the timeout names ``what``, how long it waited and the
    setting (``limit``) that bounds it. Nothing is stopped on a timeout: a retry decides again.
    """
    deadline = time.monotonic() + max_wait
    while True:
        description = describe()
        if on_poll is not None:
            on_poll(description)
        status = description[status_key]
        if status not in busy:
            return description
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AirflowException(
                f"{what} is still {status} after waiting {max_wait:g}s for it ({limit})"
            )
        if log is not None:
            log.info("%s is %s: waiting.", what, status)
        time.sleep(max(0.0, min(check_interval, remaining)))


# --- request fingerprints -------------------------------------------------------------------


def submit_directory(hyperparameters: Mapping[str, Any]) -> Any:
    """Script mode's code archive (``sagemaker_submit_directory``, JSON-encoded as the SDK
    sends it), or None."""
    value = hyperparameters.get("sagemaker_submit_directory")
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def input_uris(request: Mapping[str, Any]) -> list[str]:
    """The S3 locations a request reads: processing inputs, training channels (a tuning job's
    in its TrainingJobDefinition), script mode's code archive, a model's artifact and code.
    Outputs are left out: what is there is the job's result. (An input
    prefix that also covered the job's own outputs would make every finished job look changed;
    sagemaker_requests.RunLayout keeps them apart.)"""
    found: list[Any] = [
        item.get("S3Input", {}).get("S3Uri") for item in request.get("ProcessingInputs", [])
    ]
    definition = request.get("TrainingJobDefinition") or {}
    found += [
        channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        for channel in [*request.get("InputDataConfig", []), *definition.get("InputDataConfig", [])]
    ]
    found.append(submit_directory(request.get("HyperParameters") or {}))
    found.append(submit_directory(definition.get("StaticHyperParameters") or {}))
    for container in [request.get("PrimaryContainer") or {}, *request.get("Containers", [])]:
        found.append(container.get("ModelDataUrl"))
        found.append(container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY"))
    return sorted({uri for uri in found if isinstance(uri, str) and uri.startswith("s3://")})


def s3_contents(s3: Any, uris: Iterable[str]) -> dict[str, list[list[str]]]:
    """Per S3 URI, ``[key below it, ETag]`` of every object SageMaker would copy for it (an
    S3Prefix input takes every key that starts with it). The ETag is S3's content identity: the
    MD5 for a plain upload, so the same bytes give the same value; a multipart upload of the same
    bytes may differ, which only costs a re-run, never a stale reuse."""
    contents: dict[str, list[list[str]]] = {}
    for uri in uris:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        objects: list[list[str]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects += [
                [item["Key"][len(prefix) :], item.get("ETag", "").strip('"')]
                for item in page.get("Contents", [])
            ]
        contents[uri] = sorted(objects)
    return contents


def request_fingerprint(
    request: Mapping[str, Any], name_key: str, contents: Mapping[str, Any]
) -> str:
    """sha256 of the canonical JSON of the request (minus its name and labels) and the content
    identity of its inputs; 64 hex characters, well within a tag value's 256."""
    body = {
        key: value
        for key, value in request.items()
        if key != name_key and key not in NOT_FINGERPRINTED
    }
    canonical = json.dumps(
        {"request": body, "contents": contents},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint(request: Mapping[str, Any], name_key: str, s3: Callable[[], Any]) -> str:
    """The request's fingerprint; ``s3()`` gives a client, made only if the request reads S3."""
    uris = input_uris(request)
    return request_fingerprint(request, name_key, s3_contents(s3(), uris) if uris else {})


def s3_client_of(operator: Any) -> Any:
    """S3 through the operator's Airflow connection (whose endpoint_url points offline runs at
    the emulator), for listing what a request reads."""
    return S3Hook(
        aws_conn_id=operator.aws_conn_id,
        region_name=operator.region_name,
        verify=operator.verify,
        config=operator.botocore_config,
    ).conn


def with_fingerprint(request: dict[str, Any], value: str) -> dict[str, Any]:
    """The request with its fingerprint tag (any older one replaced)."""
    tags = [tag for tag in request.get("Tags", []) if tag.get("Key") != FINGERPRINT_TAG]
    return {**request, "Tags": [*tags, {"Key": FINGERPRINT_TAG, "Value": value}]}


def recorded_fingerprint(sagemaker: Any, arn: str) -> str | None:
    """The fingerprint tagged on a resource; None for one created without it. One ListTags page
    holds 50 tags, SageMaker's limit per resource."""
    tags = sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
    return next((tag["Value"] for tag in tags if tag.get("Key") == FINGERPRINT_TAG), None)


def short(value: str | None) -> str:
    return value[:12] if value else "none"


# --- attach, reuse or create ----------------------------------------------------------------


class Decision(NamedTuple):
    verdict: str  # "create" | "attach" | "reuse"
    name: str  # the attempt to create, attach to or reuse
    description: dict[str, Any] | None  # the newest existing attempt, None if there is none
    note: str = ""  # why, for the log


def attempt_name(base_name: str, attempt: int) -> str:
    return base_name if attempt == 1 else f"{base_name}-a{attempt}"


def newest_attempt(
    base_name: str, describe: Callable[[str], dict[str, Any]]
) -> tuple[int, dict[str, Any] | None]:
    """(attempt, description) of the newest existing attempt; (0, None) if there is none."""
    found: tuple[int, dict[str, Any] | None] = (0, None)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            found = (attempt, describe(attempt_name(base_name, attempt)))
        except ClientError as error:
            if is_not_found(error):
                return found
            raise
    return found


def decide_job(
    base_name: str,
    describe: Callable[[str], dict[str, Any]],
    status_key: str,
    fingerprint_of: Callable[[str], str] | None = None,
    recorded: Callable[[dict[str, Any]], str | None] | None = None,
) -> Decision:
    """Create, attach or reuse for the job ``base_name``.

    With ``fingerprint_of(name)`` (the fingerprint of the request as it would be sent under
    ``name``) and ``recorded(description)`` (the one tagged on an existing attempt), a running
    or Completed attempt is attached to or reused only when the two match; otherwise the next
    attempt is created. Without them only the status decides.
    """
    attempt, description = newest_attempt(base_name, describe)
    if description is None:
        return Decision("create", base_name, None, f"{base_name}: no attempt yet: creating it")
    name = attempt_name(base_name, attempt)
    status = description[status_key]
    if status in IN_PROGRESS or status in REUSABLE:
        verdict = "attach" if status in IN_PROGRESS else "reuse"
        if fingerprint_of is None or recorded is None:
            return Decision(verdict, name, description)
        wanted, found = fingerprint_of(name), recorded(description)
        if wanted == found:
            return Decision(verdict, name, description, f"{name}: same request ({short(wanted)})")
        why = f"request changed (fingerprint {short(wanted)} != {short(found)})"
    else:
        why = f"it ended {status}"
    if attempt >= MAX_ATTEMPTS:
        raise AirflowFailException(f"{base_name}: {MAX_ATTEMPTS} attempts exist; giving up")
    following = attempt + 1
    return Decision(
        "create",
        attempt_name(base_name, following),
        description,
        f"{name}: {why}: starting attempt {following}",
    )


def naming(name_key: str) -> ConfigBuilder:
    """The default builder: the planned request under the attempt's name."""

    def build(planned: dict[str, Any], context: Any, name: str) -> dict[str, Any]:
        return {**copy.deepcopy(planned), name_key: name}

    return build


class PlannedRequest:
    """What the operators share about their templated ``config``: the request as planned,
    kept before execute replaces ``config`` with the request it sent, and its uploads (the
    provider's ``S3Operations`` block, ``S3Upload`` entries) done once, before anything is
    fingerprinted."""

    config: dict[str, Any]
    hook: Any
    log: Any
    _planned: dict[str, Any] | None = None

    def planned_request(self, upload: bool = True) -> dict[str, Any]:
        """The planned request without its uploads, which run first when ``upload``."""
        if self._planned is None:
            planned = copy.deepcopy(self.config or {})
            operations = planned.pop("S3Operations", None)
            if operations and upload:
                uploads = operations.get("S3Upload", [])
                self.log.info(
                    "Uploading %s before building the request.",
                    ", ".join(f"s3://{op['Bucket']}/{op['Key']}" for op in uploads),
                )
                # Not the hook's configure_s3_resources: its load_file keeps replace=False and
                # so refuses the second upload, and a cleared task must upload the script as
                # it is now over the first one.
                s3 = s3_client_of(self)
                for op in uploads:
                    if op.get("Tar"):
                        s3.put_object(
                            Bucket=op["Bucket"], Key=op["Key"], Body=reproducible_tar(op["Path"])
                        )
                    else:
                        s3.upload_file(op["Path"], op["Bucket"], op["Key"])
            self._planned = planned
        return self._planned


def reproducible_tar(path: str) -> bytes:
    """A gzipped tar of the file ``path`` (at the archive's top, as the provider's ``Tar``
    upload puts it) that depends on its bytes only: no modification times, owners or gzip
    timestamp, so uploading the same script again gives the same object (ETag) and a retried
    task's fingerprint matches its job's."""
    source = Path(path)
    data = source.read_bytes()
    member = tarfile.TarInfo(source.name)
    member.size, member.mode, member.mtime = len(data), 0o644, 0
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def base_job_name(context: Any) -> str:
    ti = context["ti"]
    return names.resource_name(ti.dag_id, context["run_id"], ti.task_id)


def as_completed(describe: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """``describe`` for a resource without a status, as decide_job reads it."""
    return lambda name: {**describe(name), EXISTS_STATUS: "Completed"}


def decide_resource(
    context: Any,
    describe: Callable[[str], dict[str, Any]],
    fingerprint_of: Callable[[str], str],
    hook: Any,
    arn_key: str,
) -> Decision:
    """decide_job for a resource without a status (a model, an endpoint config): an attempt
    whose tagged fingerprint matches the request's is reused, else the next one is created.
    ``hook.conn`` is only asked for when there is an attempt to read the tags of."""
    return decide_job(
        base_job_name(context),
        as_completed(describe),
        EXISTS_STATUS,
        fingerprint_of=fingerprint_of,
        recorded=lambda found: recorded_fingerprint(hook.conn, found[arn_key]),
    )


@dataclass(frozen=True)
class JobKind:
    label: str  # "processing", for messages
    job_type: str  # SageMakerTrigger's job_type
    name_key: str
    status_key: str
    arn_key: str
    result_key: str  # the task's return value: {result_key: description}


PROCESSING = JobKind(
    "processing",
    "Processing",
    "ProcessingJobName",
    "ProcessingJobStatus",
    "ProcessingJobArn",
    "Processing",
)
TRAINING = JobKind(
    "training", "Training", "TrainingJobName", "TrainingJobStatus", "TrainingJobArn", "Training"
)
TUNING = JobKind(
    "tuning",
    "tuning",
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobStatus",
    "HyperParameterTuningJobArn",
    "Tuning",
)


class AttachOrCreateJob(PlannedRequest):
    """Attach-or-create for a provider job operator (mixed in before it, see the docstring at
    the top). The operator supplies ``describe_job``, ``create_job``, ``stop_job`` and
    ``remember`` for its kind of job; everything else is shared, so an attached job and a
    created one, waited for in the task or in the triggerer, end the same way.

    ``hook``, ``log``, ``check_interval``, ``max_ingestion_time``, ``deferrable``, ``defer``,
    ``preprocess_config`` and the connection settings come from the provider's operator.
    """

    kind: ClassVar[JobKind]
    build_config: ConfigBuilder
    # ``config`` is replaced by execute with the request sent (the name is only known then);
    # Airflow stores the rendered fields again after the task, so the UI's Rendered Template
    # tab shows the very request this task sent.
    overwrite_rtif_after_execution: ClassVar[bool] = True

    def __init__(
        self, *, config: Any = None, build_config: ConfigBuilder | None = None, **kwargs: Any
    ) -> None:
        # Each operator class defines an __init__ calling this one (see the tuning operator's).
        super().__init__(config=config or {}, **kwargs)
        self.build_config = build_config or naming(self.kind.name_key)

    def build(self, context: Any, name: str, upload: bool = True) -> dict[str, Any]:
        return self.build_config(self.planned_request(upload), context, name)

    def describe_job(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def create_job(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def stop_job(self, name: str) -> None:
        raise NotImplementedError

    def remember(self, result: dict[str, Any]) -> None:
        """Keep the final description where the provider's OpenLineage hook looks for it."""

    def on_poll(self, name: str, description: dict[str, Any]) -> None:
        """Called with each description while waiting (training streams its log here)."""

    def s3_client(self) -> Any:
        return s3_client_of(self)

    def request_for(self, context: Any, name: str) -> dict[str, Any]:
        """build_config's request for ``name`` with its fingerprint tag: what create sends."""
        request = self.build(context, name)
        value = fingerprint(request, self.kind.name_key, self.s3_client)
        return with_fingerprint(request, value)

    def recorded(self, description: dict[str, Any]) -> str | None:
        return recorded_fingerprint(self.hook.conn, description[self.kind.arn_key])

    def execute(self, context: Any) -> dict[str, Any]:
        kind = self.kind
        log = self.log
        self.check_interval = float(self.check_interval)  # rendered from the plan
        decision = decide_job(
            base_job_name(context),
            self.describe_job,
            kind.status_key,
            fingerprint_of=lambda name: fingerprint(
                self.build(context, name), kind.name_key, self.s3_client
            ),
            recorded=self.recorded,
        )
        name = decision.name
        if decision.verdict == "reuse":
            assert decision.description is not None
            # The wording below is what tests/e2e look for in the task log.
            log.info("%s.", decision.note)
            log.info("%s job %s already completed: reusing it.", kind.label.capitalize(), name)
            self.config = self.build(context, name)
            return self.finish(decision.description)
        if decision.verdict == "attach":
            log.info("%s.", decision.note)
            log.info("%s job %s is already running: waiting for it.", kind.label.capitalize(), name)
            self.config = self.build(context, name)
            return self.wait_and_finish(name)
        log.info("%s", decision.note)
        self.retire(decision.description)
        self.config = self.request_for(context, name)
        self.preprocess_config()
        log.info("Creating %s job %s.", kind.label, name)
        create_or_fail(lambda: self.create_job(self.config), f"{kind.label} job {name}")
        return self.wait_and_finish(name)

    def retire(self, description: dict[str, Any] | None) -> None:
        """Stop a running attempt whose request is out of date before starting the next one:
        both would write the same output locations, the stale one possibly last."""
        if description is None or description[self.kind.status_key] not in IN_PROGRESS:
            return
        name = description[self.kind.name_key]
        self.log.warning("Stopping %s job %s: its request is out of date.", self.kind.label, name)
        try:
            self.stop_job(name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise  # ValidationException: it is Stopping or has ended already
        self.wait_for_job(name)

    def max_wait(self) -> float:
        return float(self.max_ingestion_time or DEFAULT_MAX_WAIT_SECONDS)

    def wait_for_job(self, name: str) -> dict[str, Any]:
        """The job's description once it has ended; bounded by max_ingestion_time."""
        return wait_until_settled(
            lambda: self.describe_job(name),
            self.kind.status_key,
            IN_PROGRESS,
            what=f"{self.kind.label} job {name}",
            check_interval=self.check_interval,
            max_wait=self.max_wait(),
            on_poll=lambda description: self.on_poll(name, description),
            log=self.log,
        )

    def wait_and_finish(self, name: str) -> dict[str, Any]:
        if self.deferrable:
            description = self.describe_job(name)
            if description[self.kind.status_key] not in IN_PROGRESS:
                return self.finish(description)
            interval = max(self.check_interval, 1)
            self.defer(
                trigger=SageMakerTrigger(
                    job_name=name,
                    job_type=self.kind.job_type,
                    waiter_delay=interval,
                    waiter_max_attempts=max(1, math.ceil(self.max_wait() / interval)),
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=dt.timedelta(seconds=self.max_wait() + DEFER_SLACK_SECONDS),
            )
        return self.finish(self.wait_for_job(name))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """Resumed from the trigger: whatever the event says, the job's description decides."""
        event = validate_execute_complete_event(event)
        name = event["job_name"]
        # A resumed task is a new instance: the request again, for the Rendered Template tab;
        # the script is not uploaded again, the job has run.
        self.config = self.build(context, name, upload=False)
        description = self.describe_job(name)
        status = description[self.kind.status_key]
        if status in IN_PROGRESS:  # the trigger gave up (timeout) or lost the job's track
            raise AirflowException(
                f"{self.kind.label} job {name} is still {status} after waiting up to "
                f"{self.max_wait():g}s for it (max_ingestion_time; the trigger said "
                f"{event.get('status')}: {event.get('message')}); it was left running, and a "
                f"retry attaches to it"
            )
        return self.finish(description)

    def finish(self, description: dict[str, Any]) -> dict[str, Any]:
        """The task's result for a job that has ended: Completed returns its description;
        anything else fails the task (without retries when is_permanent_failure says so)."""
        if description[self.kind.status_key] != "Completed":
            raise job_failure(self.kind.label, description)
        result = serialize(description)
        self.remember(result)
        return {self.kind.result_key: result}


class AttachOrCreateProcessingOperator(AttachOrCreateJob, SageMakerProcessingOperator):
    """SageMakerProcessingOperator that never launches a duplicate of its run's job, and never
    passes a job that did not complete."""

    kind = PROCESSING
    template_fields: Sequence[str] = (
        *SageMakerProcessingOperator.template_fields,
        "check_interval",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(action_if_job_exists="fail", **kwargs)
        self.max_ingestion_time = self.max_ingestion_time or DEFAULT_MAX_WAIT_SECONDS

    def describe_job(self, name: str) -> dict[str, Any]:
        return self.hook.describe_processing_job(name)

    def create_job(self, config: dict[str, Any]) -> None:
        self.hook.create_processing_job(config, wait_for_completion=False)

    def stop_job(self, name: str) -> None:
        self.hook.conn.stop_processing_job(ProcessingJobName=name)

    def remember(self, result: dict[str, Any]) -> None:
        self.serialized_job = result


class AttachOrCreateTrainingOperator(AttachOrCreateJob, SageMakerTrainingOperator):
    """SageMakerTrainingOperator that never launches a duplicate of its run's training job, and
    never passes a job that did not complete."""

    kind = TRAINING
    template_fields: Sequence[str] = (
        *SageMakerTrainingOperator.template_fields,
        "check_interval",
        "print_log",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(action_if_job_exists="fail", **kwargs)
        self.max_ingestion_time = self.max_ingestion_time or DEFAULT_MAX_WAIT_SECONDS
        self._log_positions: dict[str, dict] = {}

    def describe_job(self, name: str) -> dict[str, Any]:
        return self.hook.describe_training_job(name)

    def create_job(self, config: dict[str, Any]) -> None:
        # Waiting (and the log) are ours: the hook's wait would pass a Stopped job.
        self.hook.create_training_job(config, wait_for_completion=False, print_log=False)

    def stop_job(self, name: str) -> None:
        self.hook.conn.stop_training_job(TrainingJobName=name)

    def remember(self, result: dict[str, Any]) -> None:
        self.serialized_training_data = result

    def on_poll(self, name: str, description: dict[str, Any]) -> None:
        """Print the job's new CloudWatch lines (``print_log``); the state COMPLETE makes the
        hook read the log only, the status being ours to poll."""
        if not self.print_log:
            return
        try:
            self.hook.describe_training_job_with_log(
                name,
                self._log_positions.setdefault(name, {}),
                [],
                description["ResourceConfig"]["InstanceCount"],
                LogState.COMPLETE,
                description,
                time.monotonic(),
            )
        except Exception as exc:  # the log is a courtesy: it must not fail the wait
            self.log.warning("Could not read the log of training job %s: %s", name, exc)


class AttachOrCreateTuningOperator(AttachOrCreateJob, SageMakerTuningOperator):
    """SageMakerTuningOperator that never launches a duplicate of its run's tuning job, and
    never passes one that did not complete: a retry waits for (or reuses) the tuning job its
    request already started, a changed request starts the next attempt (``-a2`` ...), and a
    Stopped or Failed tuning job fails the task.

    Its result is ``{"Tuning": DescribeHyperParameterTuningJob, "Training":
    DescribeTrainingJob of its BestTrainingJob}``: the best training job stands where the train
    task's job stands, so evaluate, the gate and registration read its model unchanged.
    """

    kind = TUNING
    template_fields: Sequence[str] = (*SageMakerTuningOperator.template_fields, "check_interval")

    def __init__(self, **kwargs: Any) -> None:
        # Airflow's operator metaclass wraps the __init__ each operator class defines (its
        # apply_defaults needs one); AttachOrCreateJob's, in a plain mixin, is not wrapped.
        super().__init__(**kwargs)

    def max_wait(self) -> float:
        """max_ingestion_time if given; else one job's bound per round of parallel jobs (they
        run MaxParallelTrainingJobs at a time, each bounded by its MaxRuntimeInSeconds)."""
        if self.max_ingestion_time:
            return float(self.max_ingestion_time)
        limits = (
            (self.config or {}).get("HyperParameterTuningJobConfig", {}).get("ResourceLimits", {})
        )
        jobs = int(limits.get("MaxNumberOfTrainingJobs") or tuning_grid_size(self.config))
        parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
        return float(DEFAULT_MAX_WAIT_SECONDS * math.ceil(jobs / parallel))

    def describe_job(self, name: str) -> dict[str, Any]:
        return self.hook.describe_tuning_job(name)

    def on_poll(self, name: str, description: dict[str, Any]) -> None:
        """Log the training jobs' counts whenever they change: the tuning job's progress."""
        counters = description.get("TrainingJobStatusCounters", {})
        if counters != getattr(self, "_last_counters", None):
            self._last_counters = counters
            best = (description.get("BestTrainingJob") or {}).get(
                "FinalHyperParameterTuningJobObjectiveMetric", {}
            )
            self.log.info(
                "Tuning job %s: training jobs %s; best %s so far: %s.",
                name,
                json.dumps(counters, sort_keys=True),
                objective_of(description),
                best.get("Value", "none yet"),
            )

    def create_job(self, config: dict[str, Any]) -> None:
        self.hook.create_tuning_job(config, wait_for_completion=False)

    def stop_job(self, name: str) -> None:
        self.hook.conn.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)

    def finish(self, description: dict[str, Any]) -> dict[str, Any]:
        """Completed: the tuning job and its best training job's description; else the task
        fails with the tuning job's status and reason."""
        name = description[self.kind.name_key]
        if description[self.kind.status_key] != "Completed":
            counters = json.dumps(description.get("TrainingJobStatusCounters", {}))
            reason = description.get("FailureReason") or "no FailureReason given"
            ended = {**description, "FailureReason": f"{reason} (training jobs: {counters})"}
            raise job_failure(self.kind.label, ended)
        best = description.get("BestTrainingJob")
        if not best:
            raise AirflowException(
                f"tuning job {name} completed without a BestTrainingJob: none of its training "
                f"jobs reported the objective {objective_of(description)}"
            )
        training = self.hook.describe_training_job(best["TrainingJobName"])
        if training["TrainingJobStatus"] != "Completed":
            raise job_failure("training", training)
        self.log.info(
            "Tuning job %s: best training job %s (%s = %s), hyperparameters %s.",
            name,
            best["TrainingJobName"],
            objective_of(description),
            best.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
            json.dumps(best.get("TunedHyperParameters", {}), sort_keys=True),
        )
        return {"Tuning": serialize(description), "Training": serialize(training)}


def objective_of(description: Mapping[str, Any]) -> str:
    objective = description.get("HyperParameterTuningJobConfig", {}).get(
        "HyperParameterTuningJobObjective", {}
    )
    return str(objective.get("MetricName", "?"))


def tuning_grid_size(request: Mapping[str, Any] | None) -> int:
    """How many training jobs a Grid search runs: the product of its ranges' sizes."""
    ranges = (request or {}).get("HyperParameterTuningJobConfig", {}).get("ParameterRanges", {})
    size = 1
    for item in ranges.get("CategoricalParameterRanges", []):
        size *= len(item["Values"])
    for item in ranges.get("IntegerParameterRanges", []):
        size *= int(item["MaxValue"]) - int(item["MinValue"]) + 1
    return size


class CreateOrReuseModelOperator(PlannedRequest, SageMakerModelOperator):
    """SageMakerModelOperator that reuses the run's model when it exists with the same request
    (fingerprint tag, as for jobs), and creates the next attempt (``-a2`` ...) when the request
    changed: a model cannot be changed in place, and one name must mean one model."""

    overwrite_rtif_after_execution: ClassVar[bool] = True  # see AttachOrCreateJob

    def __init__(
        self, *, config: Any = None, build_config: ConfigBuilder | None = None, **kwargs: Any
    ) -> None:
        super().__init__(config=config or {}, **kwargs)
        self.build_config = build_config or naming("ModelName")

    def execute(self, context: Any) -> dict:
        def build(name: str) -> dict[str, Any]:
            return self.build_config(self.planned_request(), context, name)

        def fingerprint_for(name: str) -> str:
            return fingerprint(build(name), "ModelName", lambda: s3_client_of(self))

        decision = decide_resource(
            context, self.hook.describe_model, fingerprint_for, self.hook, "ModelArn"
        )
        name = decision.name
        if decision.verdict == "reuse":
            assert decision.description is not None
            self.log.info("%s.", decision.note)
            self.log.info("Model %s already exists: reusing it.", name)
            existing = dict(decision.description)
            existing.pop(EXISTS_STATUS)
            self.config = build(name)
            return {"Model": serialize(existing)}
        self.log.info("%s", decision.note)
        self.config = with_fingerprint(build(name), fingerprint_for(name))
        self.log.info("Creating model %s.", name)
        return create_or_fail(
            lambda: super(CreateOrReuseModelOperator, self).execute(context), f"model {name}"
        )


def registered_version(sagemaker: Any, group_name: str, training_job: str) -> dict[str, Any] | None:
    """The group's version already registered for ``training_job``, if any."""
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group_name, ModelPackageType="Versioned"
        )
        for page in pages:
            for summary in page["ModelPackageSummaryList"]:
                package = sagemaker.describe_model_package(
                    ModelPackageName=summary["ModelPackageArn"]
                )
                properties = package.get("CustomerMetadataProperties", {})
                if properties.get("training_job") == training_job:
                    return package
    except ClientError as error:
        if is_not_found(error):
            return None  # no group yet, so nothing registered
        raise
    return None


class RegisterOnceOperator(SageMakerRegisterModelVersionOperator):
    """Registers a training job's model at most once: a retry returns the existing version.

    ``config`` is the planned CreateModelPackage body (sagemaker_requests.py) and
    ``build_request(planned, context)`` the one sent (in the DAG: bound to the training job
    that completed and the gate's accuracy); its CustomerMetadataProperties must carry
    ``training_job``, the key looked up here. A changed
    training request makes a new training job (``-aN``), so a new version; nothing else does.
    """

    overwrite_rtif_after_execution: ClassVar[bool] = True  # see AttachOrCreateJob
    # The provider templates the pieces it assembles; here the whole CreateModelPackage body
    # is planned, so ``config`` (templated) is what the Rendered Template tab shows.
    template_fields: Sequence[str] = (
        *SageMakerRegisterModelVersionOperator.template_fields,
        "config",
    )
    template_fields_renderers: ClassVar[dict] = {"config": "json", "extras": "json"}

    def __init__(
        self,
        *,
        config: Any = None,
        build_request: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_uri="", model_url="", package_group_name="", config=config or {}, **kwargs
        )
        self.build_request = build_request or (lambda planned, context: copy.deepcopy(planned))

    def execute(self, context: Any) -> str:
        request = self.build_request(copy.deepcopy(self.config), context)
        self.config = request
        training_job = request["CustomerMetadataProperties"]["training_job"]
        group = request["ModelPackageGroupName"]
        container = request["InferenceSpecification"]["Containers"][0]
        self.image_uri = container["Image"]
        self.model_url = container["ModelDataUrl"]
        self.package_group_name = group
        self.package_desc = request["ModelPackageDescription"]
        self.extras = {
            key: value
            for key, value in request.items()
            if key not in {"ModelPackageGroupName", "ModelPackageDescription"}
        }
        existing = registered_version(self.hook.conn, group, training_job)
        if existing is not None:
            self.log.info(
                "Training job %s is already registered as %s: not registering again.",
                training_job,
                existing["ModelPackageArn"],
            )
            return existing["ModelPackageArn"]
        return super().execute(context)


class DeployEndpointOperator(PlannedRequest, SageMakerEndpointOperator):
    """SageMakerEndpointOperator that creates the endpoint, or updates it in place, to serve
    this run's endpoint config (named after (dag, run, task)); safe to retry:

    - the run's endpoint config already exists with this request (a retry) -> it is not created
      again; with another request (a new model attempt) -> the next config attempt (``-aN``);
    - the endpoint already serves it -> nothing to do;
    - the endpoint is busy (Creating/Updating) -> wait for it first, then decide;
    - the endpoint is Failed (AWS refuses to update those) -> delete it, then create it.

    Every wait is bounded by ``max_ingestion_time`` (an hour unless given). Deferrable, the wait
    for the endpoint to be InService runs in the provider's SageMakerTrigger.

    ``config`` is the planned ``{"EndpointConfig": ..., "Endpoint": ...}``;
    ``build_config(planned, context, config_name)`` names it for the attempt (and, in the DAG,
    points it at the model create_model made).
    """

    overwrite_rtif_after_execution: ClassVar[bool] = True  # see AttachOrCreateJob
    template_fields: Sequence[str] = (*SageMakerEndpointOperator.template_fields, "check_interval")

    def __init__(
        self, *, config: Any = None, build_config: ConfigBuilder | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("max_ingestion_time", ENDPOINT_MAX_WAIT_SECONDS)
        super().__init__(config=config or {}, operation="create", **kwargs)
        self.build_config = build_config or name_endpoint_config

    def build(self, context: Any, config_name: str) -> dict[str, Any]:
        return self.build_config(self.planned_request(), context, config_name)

    def describe_or_none(self, describe: Callable[[str], dict], name: str) -> dict | None:
        try:
            return describe(name)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def describe_endpoint_or_gone(self, name: str) -> dict[str, Any]:
        """DescribeEndpoint, with a vanished endpoint as the status "Gone"."""
        found = self.describe_or_none(self.hook.describe_endpoint, name)
        return found if found is not None else {"EndpointName": name, "EndpointStatus": "Gone"}

    def settled_endpoint(self, name: str) -> dict | None:
        """The endpoint once no change is in progress on it; None if it does not exist."""
        endpoint = wait_until_settled(
            lambda: self.describe_endpoint_or_gone(name),
            "EndpointStatus",
            ENDPOINT_BUSY,
            what=f"endpoint {name}",
            check_interval=self.check_interval,
            max_wait=self.max_ingestion_time,
            log=self.log,
        )
        return None if endpoint["EndpointStatus"] == "Gone" else endpoint

    def endpoint_config_decision(self, context: Any) -> tuple[str, bool]:
        """(config name, whether it exists already with this request)."""

        def fingerprint_for(name: str) -> str:
            request = self.build(context, name)["EndpointConfig"]
            return request_fingerprint(request, "EndpointConfigName", {})

        describe = self.hook.describe_endpoint_config
        decision = decide_resource(
            context, describe, fingerprint_for, self.hook, "EndpointConfigArn"
        )
        self.log.info("%s", decision.note)
        return decision.name, decision.verdict == "reuse"

    def execute(self, context: Any) -> dict:
        self.check_interval = float(self.check_interval)  # rendered from the plan
        config_name, exists = self.endpoint_config_decision(context)
        self.config = self.build(context, config_name)
        endpoint_name = self.config["Endpoint"]["EndpointName"]
        if exists:
            self.log.info("Endpoint config %s exists (a retry): not creating it.", config_name)
            self.config.pop("EndpointConfig")
        else:
            request = self.config["EndpointConfig"]
            value = request_fingerprint(request, "EndpointConfigName", {})
            self.config["EndpointConfig"] = with_fingerprint(request, value)
        endpoint = self.settled_endpoint(endpoint_name)
        if endpoint is not None and endpoint["EndpointStatus"] == "Failed":
            self.log.warning(
                "Endpoint %s is Failed (%s): deleting it to create it again.",
                endpoint_name,
                endpoint.get("FailureReason"),
            )
            self.hook.conn.delete_endpoint(EndpointName=endpoint_name)
            wait_until_settled(
                lambda: self.describe_endpoint_or_gone(endpoint_name),
                "EndpointStatus",
                {*ENDPOINT_BUSY, "Failed"},
                what=f"endpoint {endpoint_name} (deleting)",
                check_interval=self.check_interval,
                max_wait=self.max_ingestion_time,
                log=self.log,
            )
            endpoint = None
        if endpoint is not None and endpoint["EndpointConfigName"] == config_name:
            self.log.info("Endpoint %s already serves %s.", endpoint_name, config_name)
            return self.served(endpoint_name, endpoint)
        self.operation = "create" if endpoint is None else "update"
        self.preprocess_config()
        if "EndpointConfig" in self.config:
            self.log.info("Creating endpoint config %s.", config_name)
            create_or_fail(
                lambda: self.hook.create_endpoint_config(self.config["EndpointConfig"]),
                f"endpoint config {config_name}",
            )
        self.log.info("%s endpoint %s to %s.", self.operation.title(), endpoint_name, config_name)
        if endpoint is None:
            create_or_fail(
                lambda: self.hook.create_endpoint(
                    self.config["Endpoint"], wait_for_completion=False
                ),
                f"endpoint {endpoint_name}",
            )
        else:
            # Not create_or_fail: UpdateEndpoint also answers ValidationException when another
            # run's deploy is changing the endpoint ("Cannot update in-progress endpoint"),
            # which the retry resolves by waiting for it first.
            self.hook.update_endpoint(self.config["Endpoint"], wait_for_completion=False)
        if self.deferrable:
            interval = max(self.check_interval, 1)
            self.defer(
                trigger=SageMakerTrigger(
                    job_name=endpoint_name,
                    job_type="endpoint",
                    waiter_delay=interval,
                    waiter_max_attempts=max(1, math.ceil(self.max_ingestion_time / interval)),
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=dt.timedelta(seconds=self.max_ingestion_time + DEFER_SLACK_SECONDS),
            )
        return self.served(endpoint_name, self.settled_endpoint(endpoint_name))

    def served(self, name: str, endpoint: dict | None) -> dict:
        """The task's result once the endpoint is InService; else it fails with the reason."""
        if endpoint is None:
            raise AirflowException(f"endpoint {name} is gone: it was deleted meanwhile")
        if endpoint["EndpointStatus"] != "InService":
            raise AirflowException(
                f"endpoint {name} is {endpoint['EndpointStatus']} on "
                f"{endpoint.get('EndpointConfigName')}: "
                f"{endpoint.get('FailureReason', 'no reason given')}"
            )
        return {
            "EndpointConfig": serialize(
                self.hook.describe_endpoint_config(endpoint["EndpointConfigName"])
            ),
            "Endpoint": serialize(endpoint),
        }

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """Resumed from the trigger: the endpoint's description decides, as without deferring."""
        name = validate_execute_complete_event(event)["job_name"]
        return self.served(name, self.settled_endpoint(name))


def name_endpoint_config(planned: dict[str, Any], context: Any, config_name: str) -> dict:
    """The default deploy builder: the planned endpoint config under the attempt's name, and
    the endpoint pointing at it."""
    bound = copy.deepcopy(planned)
    bound["EndpointConfig"]["EndpointConfigName"] = config_name
    bound["Endpoint"]["EndpointConfigName"] = config_name
    return bound


def executions_by_display_name(sagemaker: Any, pipeline_name: str) -> dict[str, dict[str, Any]]:
    """The pipeline's executions, newest first per display name."""
    found: dict[str, dict[str, Any]] = {}
    pages = sagemaker.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline_name, SortOrder="Descending"
    )
    for page in pages:
        for summary in page["PipelineExecutionSummaries"]:
            found.setdefault(summary.get("PipelineExecutionDisplayName", ""), summary)
    return found


class AttachOrStartPipelineOperator(SageMakerStartPipelineOperator):
    """SageMakerStartPipelineOperator that never starts a second execution for its run.

    The execution's display name derives from (dag, run, task). An Executing one is waited for,
    a Succeeded one is reused, a Failed/Stopped one gets a new attempt (``-a2``, ...), as the
    job operators do. A waited-for execution that ends Stopped or Failed fails the task (the
    hook's wait passes Stopped).
    ``pipeline_params`` is the provider's templated field (in the DAG: the run's planned
    PipelineParameters); ``check_interval`` is templated as well.
    """

    template_fields: Sequence[str] = (
        *SageMakerStartPipelineOperator.template_fields,
        "check_interval",
    )
    template_fields_renderers: ClassVar[dict] = {"pipeline_params": "json"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(wait_for_completion=True, **kwargs)

    def ended_well(self, arn: str) -> str:
        description = self.hook.describe_pipeline_exec(arn)
        status = description["PipelineExecutionStatus"]
        if status in {"Failed", "Stopped"}:
            raise AirflowException(
                f"pipeline execution {self.display_name} ({arn}) ended {status}: "
                f"{description.get('FailureReason', 'no FailureReason given')}"
            )
        return arn

    def execute(self, context: Any) -> str:
        base = base_job_name(context)
        # decide_job speaks the jobs' statuses: Executing is InProgress, Succeeded is Completed.
        translate = {"Executing": "InProgress", "Succeeded": "Completed"}
        executions = executions_by_display_name(self.hook.conn, self.pipeline_name)
        attempts = {}
        for display_name, summary in executions.items():
            status = summary["PipelineExecutionStatus"]
            attempts[display_name] = {**summary, "Status": translate.get(status, status)}

        def describe(name: str) -> dict[str, Any]:
            if name not in attempts:
                raise ClientError({"Error": {"Code": "ResourceNotFound", "Message": name}}, "List")
            return attempts[name]

        verdict, name, found, _ = decide_job(base, describe, "Status")
        self.check_interval = int(self.check_interval)  # rendered from the plan
        self.display_name = name
        if verdict == "create":
            self.log.info("Starting pipeline execution %s.", name)
            return self.ended_well(super().execute(context))
        assert found is not None
        arn = found["PipelineExecutionArn"]
        if verdict == "reuse":
            self.log.info("Execution %s already succeeded: reusing %s.", name, arn)
            return arn
        self.log.info("Execution %s is running: waiting for %s.", name, arn)
        if self.deferrable:
            self.defer(
                trigger=SageMakerPipelineTrigger(
                    waiter_type=SageMakerPipelineTrigger.Type.COMPLETE,
                    pipeline_execution_arn=arn,
                    waiter_delay=self.check_interval,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        wait_until_settled(
            lambda: self.hook.describe_pipeline_exec(arn, self.verbose),
            "PipelineExecutionStatus",
            self.hook.pipeline_non_terminal_states,
            what=f"pipeline execution {name}",
            check_interval=self.check_interval,
            max_wait=self.waiter_max_attempts * self.check_interval,
            limit="waiter_max_attempts x check_interval",
            log=self.log,
        )
        return self.ended_well(arn)
