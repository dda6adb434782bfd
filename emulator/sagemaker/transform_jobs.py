"""Batch transform: Create/Describe/List/Stop TransformJob, scoring S3 objects with the model.

Every object under the input prefix is split into records (``SplitType: Line``), sent to the
model's workers in mini-batches up to ``MaxPayloadInMB`` (``MultiRecord``) or one record per
request (``SingleRecord``), and the answers are written to ``<S3OutputPath>/<file>.out``, joined
by newlines when ``AssembleWith: Line``, as AWS names and assembles them.
``DataProcessing`` is emulated for CSV: ``InputFilter`` / ``OutputFilter`` as JSONPath column
selections (``$``, ``$[1:]``, ``$[0,3]``, ``$[-1]``) and ``JoinSource: Input``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import posixpath
import re
from typing import Any

from emulator.sagemaker import hosting, jobs
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ValidationError
from emulator.sagemaker.models import MODELS
from emulator.sagemaker.registry import action

KIND = "TransformJob"
LOG_GROUP = "/aws/sagemaker/TransformJobs"
DEFAULT_MAX_PAYLOAD_MB = 6
COLUMN_SELECTION = re.compile(r"^\$(\[(?P<inner>[^\]]*)\])?$")


# What DescribeTransformJob answers for members the request left out (the service's defaults;
# the job itself runs from the request as given).
DESCRIBED_DEFAULTS: dict[str, Any] = {
    "MaxConcurrentTransforms": 1,
    "MaxPayloadInMB": DEFAULT_MAX_PAYLOAD_MB,
    "ModelClientConfig": {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 3},
    "TransformInput": {"CompressionType": "None", "SplitType": "None"},
    "TransformOutput": {"AssembleWith": "None", "KmsKeyId": ""},
    "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
}


TRANSFORM = jobs.JobKind(
    KIND,
    missing="Could not find job to update with name {name}",
    more_summary_keys=("FailureReason",),
    described_defaults=DESCRIBED_DEFAULTS,
    log_group=LOG_GROUP,
)
TRANSFORM.register("DescribeTransformJob", "ListTransformJobs")


def selector(expression: str | None) -> Any:
    """A JSONPath column selection on a CSV record, as a function of its list of fields."""
    if expression is None or expression.strip() == "$":
        return lambda fields: fields
    match = COLUMN_SELECTION.match(expression.strip())
    inner = match["inner"].strip() if match and match["inner"] is not None else None
    if not inner:
        raise ValidationError(
            f"JSONPath {expression!r} is not emulated for text/csv; use $, $[i], $[i,j] or $[a:b]"
        )
    try:
        if ":" in inner:
            start, _, stop = inner.partition(":")
            part = slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)
            return lambda fields: fields[part]
        indexes = [int(i) for i in inner.split(",")]
    except ValueError as exc:
        raise ValidationError(f"JSONPath {expression!r}: indexes must be integers") from exc
    return lambda fields: [fields[i] for i in indexes]


def check_data_processing(params: dict[str, Any]) -> None:
    processing = params.get("DataProcessing")
    if not processing:
        return
    content_type = params["TransformInput"].get("ContentType", "")
    if hosting_media(content_type) != "text/csv":
        raise ValidationError("DataProcessing is emulated for ContentType text/csv only.")
    for key in ("InputFilter", "OutputFilter"):
        selector(processing.get(key))


def hosting_media(value: str) -> str:
    return value.split(";")[0].strip().lower()


@action("CreateTransformJob")
def create_transform_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TransformJobName"]
    MODELS.get(engine, params["ModelName"])
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise ValidationError("Only S3DataType S3Prefix is emulated for transform jobs.")
    split = params["TransformInput"].get("SplitType", "None")
    if split not in {"None", "Line"}:
        raise ValidationError(f"SplitType {split} is not emulated; use Line or None.")
    check_data_processing(params)
    run = functools.partial(run_transform_job, engine, name)
    return jobs.launch(engine, TRANSFORM, params, run)


@action("StopTransformJob")
def stop_transform_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    jobs.request_stop(engine, TRANSFORM, params["TransformJobName"])
    return {}


def batches(records: list[bytes], strategy: str, max_bytes: int) -> list[list[bytes]]:
    """Group records into requests: one each, or as many as fit in ``max_bytes``."""
    if strategy == "SingleRecord":
        return [[record] for record in records]
    groups: list[list[bytes]] = []
    size = 0
    for record in records:
        if groups and size + len(record) + 1 <= max_bytes:
            groups[-1].append(record)
            size += len(record) + 1
        else:
            groups.append([record])
            size = len(record) + 1
    return groups


def transform_object(
    pool: hosting.WorkerPool,
    data: bytes,
    record: dict[str, Any],
    control: jobs.RunningProcess,
    where: str,
) -> bytes:
    """Score one input object; returns the assembled ``.out`` content."""
    transform_input = record["TransformInput"]
    content_type = transform_input.get("ContentType", "")
    accept = record["TransformOutput"].get("Accept", "")
    processing = record.get("DataProcessing", {})
    line_split = transform_input.get("SplitType", "None") == "Line"
    originals = [line for line in data.splitlines() if line.strip()] if line_split else [data]
    pick_input = selector(processing.get("InputFilter"))
    pick_output = selector(processing.get("OutputFilter"))
    csv_processing = bool(processing)
    if csv_processing:
        records = [",".join(pick_input(r.decode().split(","))).encode() for r in originals]
    else:
        records = originals
    max_bytes = int(record.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)) * 1024 * 1024
    strategy = record.get("BatchStrategy", "MultiRecord" if line_split else "SingleRecord")
    outputs: list[bytes] = []
    for group in batches(records, strategy, max_bytes):
        if control.stopped.is_set():
            raise jobs.JobStopped("Stopped by request")
        answer = pool.invoke(b"\n".join(group), content_type, accept)
        if answer.status != 200:
            message = answer.body.decode(errors="replace")
            raise jobs.JobFailure(
                f"ClientError: {where}: the model answered {answer.status}: {message}"
            )
        if line_split and record["TransformOutput"].get("AssembleWith") == "Line":
            lines = answer.body.decode().splitlines()
            if len(lines) != len(group):
                raise jobs.JobFailure(
                    f"ClientError: {where}: {len(group)} records in, {len(lines)} predictions out"
                )
            outputs.extend(line.encode() for line in lines)
        else:
            outputs.append(answer.body)
    if csv_processing and processing.get("JoinSource") == "Input":
        outputs = [
            original + b"," + output for original, output in zip(originals, outputs, strict=True)
        ]
    if csv_processing:
        outputs = [",".join(pick_output(o.decode().split(","))).encode() for o in outputs]
    if record["TransformOutput"].get("AssembleWith") == "Line":
        return b"\n".join(outputs) + b"\n"
    return b"".join(outputs)


def run_transform_job(engine: Engine, name: str, control: jobs.RunningProcess) -> None:
    with jobs.job_run(engine, TRANSFORM, name, control) as run, contextlib.ExitStack() as cleanup:
        record = engine.store.snapshot(KIND, name)
        work = engine.local_path("jobs", "transform", name)  # the name is the request's
        log_file = run.log_file = work / "job.log"
        work.mkdir(parents=True, exist_ok=True)
        log_file.write_text(f"[emulator] {name}: model {record['ModelName']}\n")
        try:
            served = hosting.prepare_model(engine, record["ModelName"], work / "hosting")
            # CreateTransformJob's Environment is set in the container, over the model's, and
            # SAGEMAKER_BATCH tells a container it serves a transform job (the XGBoost
            # container then writes one prediction per line).
            environment = {**served.environment, **record.get("Environment", {})}
            environment["SAGEMAKER_BATCH"] = "true"
            served = dataclasses.replace(served, environment=environment)
            count = int(record["TransformResources"].get("InstanceCount", 1))
            pool = hosting.WorkerPool.start(served, count, work / "logs")
        except hosting.HostingFailure as failure:
            raise jobs.JobFailure(f"ClientError: {failure}") from failure
        cleanup.callback(pool.stop)  # before the run ends: its workers go with it
        s3 = engine.client("s3")
        source = record["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        inputs = work / "input"
        jobs.download_prefix(s3, source, inputs)
        bucket, prefix = jobs.split_s3_uri(source)
        out_bucket, out_prefix = jobs.split_s3_uri(record["TransformOutput"]["S3OutputPath"])
        for path in sorted(p for p in inputs.rglob("*") if p.is_file()):
            relative = path.relative_to(inputs).as_posix()
            output = transform_object(pool, path.read_bytes(), record, control, relative)
            key = posixpath.join(out_prefix.rstrip("/"), relative + ".out").lstrip("/")
            s3.put_object(Bucket=out_bucket, Key=key, Body=output)
            with log_file.open("a") as handle:
                handle.write(f"[emulator] s3://{bucket}/{prefix} {relative} -> {key}\n")
