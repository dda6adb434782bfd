"""What the durable, memory-bounded emulator costs, each figure against its baseline in one run.

1. Restart: SIGKILL the emulator child, start it again on the same data dir and time until
   ``/_emulator/health`` answers (EmulatorProcess's start, polled every 10 ms instead of
   100 ms); an empty data dir against one holding 1,000 SageMaker resources and 1,000 small
   S3 objects. Every restart is checked: the counts must come back, or the run fails.
2. Memory: the emulator child's peak RSS (``VmHWM``, reset through ``clear_refs`` before the
   job) while a processing job writes 500 MB to /opt/ml/processing/output and the emulator
   uploads it to its S3 at job end, against its idle RSS and a job writing 1 KB.
3. Write-through: p50 of serial 1 KB S3 PUTs and CreateModel calls, against the same calls
   with the data dir on tmpfs (what the disk costs) and the matching reads (GET, DescribeModel).

Run: `.venv/bin/python -m bench.emulator_durability [--quick]` (``--quick``: small sizes,
results not written). Goal from the issue: peak RSS under 300 MB during the 500 MB job.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3

from bench.measure import machine, write_results
from emulator.process import READY_LINE, EmulatorProcess

RESULTS = Path(__file__).resolve().parent / "results" / "emulator_durability.json"
RESTARTS = 3
MODELS = 500  # CreateModel, half of them with two tags
PACKAGE_VERSIONS = 499  # versions in one model package group: 500 + 1 + 499 = 1,000 resources
OBJECTS = 1000  # 1 KB S3 objects
OUTPUT_MB = 500
CALLS = 200
WARMUP_CALLS = 10
PEAK_GOAL_MB = 300
BUCKET = "bench-durability"
ROLE = "arn:aws:iam::123456789012:role/bench"
IMAGE = "sagemaker-scikit-learn:1.2-1-cpu-py3"
CONTAINER = {"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}
RESTORED_LINE = re.compile(r"S3 restored from .*: (\d+) buckets, (\d+) objects, .* in ([\d.]+)s")
# The job's whole program: ``size`` zero bytes into its output dir (head writes in chunks).
WRITER = "head -c {size} /dev/zero > /opt/ml/processing/output/data.bin"


class Emulator(EmulatorProcess):
    """EmulatorProcess whose readiness is polled every 10 ms (its own loop sleeps 100 ms)."""

    def _wait_until_ready(self) -> str:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"emulator exited during start-up; see {self.log_path}")
            match = READY_LINE.search(self.log_path.read_text(errors="replace"))
            if match and self._healthy(match["url"]):
                return match["url"]
            time.sleep(0.01)
        self.stop()
        raise TimeoutError(f"emulator not healthy after {self.startup_timeout}s")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        process, self._process = self._process, None
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()

    def clients(self) -> tuple[Any, Any]:
        kwargs = {
            "endpoint_url": self.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        return boto3.client("s3", **kwargs), boto3.client("sagemaker", **kwargs)


def start(data_dir: Path) -> tuple[Emulator, float]:
    emulator = Emulator(data_dir)
    started = time.perf_counter()
    emulator.start()
    return emulator, time.perf_counter() - started


# --- 1. restart ----------------------------------------------------------------------------
def populate(s3: Any, sagemaker: Any, models: int, versions: int, objects: int) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for index in range(objects):
        s3.put_object(Bucket=BUCKET, Key=f"objects/{index:05d}", Body=os.urandom(1024))
    for index in range(models):
        tags = [{"Key": "team", "Value": "bench"}, {"Key": "index", "Value": str(index)}]
        sagemaker.create_model(
            ModelName=f"model-{index:05d}",
            ExecutionRoleArn=ROLE,
            PrimaryContainer=CONTAINER,
            Tags=tags if index % 2 == 0 else [],
        )
    sagemaker.create_model_package_group(ModelPackageGroupName="bench-group")
    for _ in range(versions):
        sagemaker.create_model_package(
            ModelPackageGroupName="bench-group", ModelApprovalStatus="Approved"
        )


def count_pages(call: Callable[..., dict], key: str, **params: Any) -> int:
    total, token = 0, None
    while True:
        page = call(**params, **({"NextToken": token} if token else {}))
        total += len(page[key])
        token = page.get("NextToken")
        if not token:
            return total


def restored_counts(s3: Any, sagemaker: Any, data_dir: Path) -> dict[str, int]:
    objects = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    )
    first = s3.get_object(Bucket=BUCKET, Key="objects/00000")["Body"].read()
    models = count_pages(sagemaker.list_models, "Models", MaxResults=100)
    tagged = 0
    if models:
        arn = sagemaker.describe_model(ModelName="model-00000")["ModelArn"]
        tagged = len(sagemaker.list_tags(ResourceArn=arn)["Tags"])
    groups = count_pages(
        sagemaker.list_model_package_groups, "ModelPackageGroupSummaryList", MaxResults=100
    )
    versions = count_pages(
        sagemaker.list_model_packages,
        "ModelPackageSummaryList",
        ModelPackageGroupName="bench-group",
        MaxResults=100,
    )
    with sqlite3.connect(data_dir / "sagemaker.sqlite3") as database:  # a reader, WAL mode
        (rows,) = database.execute("SELECT COUNT(*) FROM records").fetchone()
    return {
        "s3_objects": objects,
        "s3_first_object_bytes": len(first),
        "models": models,
        "tags_on_first_model": tagged,
        "model_package_groups": groups,
        "model_package_versions": versions,
        "sqlite_rows": rows,
    }


def restart_phase(root: Path, models: int, versions: int, objects: int) -> dict[str, Any]:
    empty_dir, loaded_dir = root / "empty", root / "loaded"
    empty, _ = start(empty_dir)
    loaded, _ = start(loaded_dir)
    s3, sagemaker = loaded.clients()
    began = time.perf_counter()
    populate(s3, sagemaker, models, versions, objects)
    populate_s = time.perf_counter() - began
    expected = restored_counts(s3, sagemaker, loaded_dir)
    wanted = {"s3_objects": objects, "models": models, "model_package_versions": versions}
    if any(expected[key] != value for key, value in wanted.items()):
        raise AssertionError(f"populating fell short: {expected}, wanted {wanted}")
    times: dict[str, list[float]] = {"empty": [], "loaded": []}
    s3_restore: list[float] = []
    try:
        for _ in range(RESTARTS):  # interleaved, so load on the machine hits both alike
            empty.kill()
            empty, seconds = start(empty_dir)
            times["empty"].append(seconds)
            loaded.kill()
            loaded, seconds = start(loaded_dir)
            times["loaded"].append(seconds)
            restored = RESTORED_LINE.search(loaded.log_path.read_text(errors="replace"))
            if restored:
                s3_restore.append(float(restored[3]))
            s3, sagemaker = loaded.clients()
            counts = restored_counts(s3, sagemaker, loaded_dir)
            if counts != expected:
                raise AssertionError(f"restart lost records: {counts} != {expected}")
            empty_s3, _ = empty.clients()
            if empty_s3.list_buckets()["Buckets"]:
                raise AssertionError("the empty data dir came back with buckets")
    finally:
        empty.stop()
        loaded.stop()
    return {
        "restarts": RESTARTS,
        "empty_median_s": round(statistics.median(times["empty"]), 3),
        "empty_s": [round(value, 3) for value in times["empty"]],
        "loaded_median_s": round(statistics.median(times["loaded"]), 3),
        "loaded_s": [round(value, 3) for value in times["loaded"]],
        "loaded_s3_restore_median_s": round(statistics.median(s3_restore), 3)
        if s3_restore
        else None,
        "sagemaker_resources": models + 1 + versions,
        "restored": expected,
        "populate_s": round(populate_s, 1),
    }


# --- 2. memory -----------------------------------------------------------------------------
def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux: ``5`` > clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def processing_job(sagemaker: Any, name: str, size: int) -> dict[str, Any]:
    """Create a job writing ``size`` bytes to its output; its last Describe (20 ms polls)."""
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        AppSpecification={
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["sh", "-c", WRITER.format(size=size)],
        },
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + 600
    while True:
        status = sagemaker.describe_processing_job(ProcessingJobName=name)
        if status["ProcessingJobStatus"] != "InProgress" or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def run_job(s3: Any, sagemaker: Any, name: str, size: int, pid: int) -> dict[str, Any]:
    """One processing job writing ``size`` bytes; its wall time and the emulator's peak RSS,
    from VmHWM and from sampling VmRSS every 20 ms."""
    reset = reset_peak(pid)
    sampled = [memory_kib(pid)["VmRSS"]]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            sampled.append(memory_kib(pid)["VmRSS"])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        status = processing_job(sagemaker, name, size)
        wall = time.perf_counter() - started
        peak = memory_kib(pid)["VmHWM"]
    finally:
        done.set()
        sampler.join()
    if status["ProcessingJobStatus"] != "Completed":
        raise AssertionError(f"job {name}: {status['ProcessingJobStatus']}: {status}")
    stored = s3.head_object(Bucket=BUCKET, Key=f"out/{name}/data.bin")["ContentLength"]
    if stored != size:
        raise AssertionError(f"job {name} uploaded {stored} bytes, not {size}")
    return {
        "output_bytes": stored,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak / 1024, 1),
        "sampled_peak_rss_mb": round(max(sampled) / 1024, 1),
        "peak_reset": reset,
    }


def memory_phase(root: Path, output_mb: int) -> dict[str, Any]:
    free_mb = shutil.disk_usage(root).free // 2**20
    # The sandbox's file, the upload's parts and the stored object, plus a margin.
    if free_mb < 4 * output_mb + 1024:
        output_mb = max(50, (free_mb - 1024) // 4)
        print(f"disk short ({free_mb} MB free): the job writes {output_mb} MB", flush=True)
    emulator, _ = start(root / "memory")
    try:
        s3, sagemaker = emulator.clients()
        s3.create_bucket(Bucket=BUCKET)
        fresh_rss = memory_kib(emulator.pid)["VmRSS"]
        small = run_job(s3, sagemaker, "bench-small-output", 1024, emulator.pid)
        time.sleep(0.5)
        idle_rss = memory_kib(emulator.pid)["VmRSS"]
        big = run_job(s3, sagemaker, "bench-big-output", output_mb * 2**20, emulator.pid)
    finally:
        emulator.stop()
    return {
        "output_mb": output_mb,
        "disk_free_mb": free_mb,
        "fresh_rss_mb": round(fresh_rss / 1024, 1),
        "idle_rss_mb": round(idle_rss / 1024, 1),
        "small_job": small,
        "big_job": big,
        "goal_peak_mb": PEAK_GOAL_MB,
        "meets_goal": big["peak_rss_mb"] < PEAK_GOAL_MB,
    }


# --- 3. write-through ----------------------------------------------------------------------
def timed(call: Callable[[int], Any], count: int) -> dict[str, float]:
    for index in range(WARMUP_CALLS):
        call(-1 - index)
    durations = []
    for index in range(count):
        began = time.perf_counter()
        call(index)
        durations.append(time.perf_counter() - began)
    durations.sort()
    return {
        "p50_ms": round(1000 * statistics.median(durations), 2),
        "p90_ms": round(1000 * durations[int(0.9 * (count - 1))], 2),
    }


def latency(data_dir: Path, count: int) -> dict[str, Any]:
    emulator, _ = start(data_dir)
    try:
        s3, sagemaker = emulator.clients()
        s3.create_bucket(Bucket=BUCKET)
        body = os.urandom(1024)

        def create(index: int) -> None:
            sagemaker.create_model(
                ModelName=f"latency-{index + WARMUP_CALLS}",
                ExecutionRoleArn=ROLE,
                PrimaryContainer=CONTAINER,
            )

        return {
            "put_1kb": timed(
                lambda i: s3.put_object(Bucket=BUCKET, Key=f"k/{i}", Body=body), count
            ),
            "get_1kb": timed(
                lambda i: s3.get_object(Bucket=BUCKET, Key=f"k/{i}")["Body"].read(), count
            ),
            "create_model": timed(create, count),
            "describe_model": timed(
                lambda i: sagemaker.describe_model(ModelName=f"latency-{i + WARMUP_CALLS}"), count
            ),
        }
    finally:
        emulator.stop()


def latency_phase(root: Path, count: int) -> dict[str, Any]:
    result = {"calls": count, "warmups": WARMUP_CALLS, "disk": latency(root / "latency", count)}
    result["tmpfs"] = None
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="bench-durability-") as tmpfs:
            result["tmpfs"] = latency(Path(tmpfs), count)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_durability")
    parser.add_argument("--quick", action="store_true", help="small sizes; results not written")
    args = parser.parse_args(argv)
    quick = args.quick
    began = time.perf_counter()
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-durability-")))
        print("restart ...", flush=True)
        restart = restart_phase(
            root,
            20 if quick else MODELS,
            9 if quick else PACKAGE_VERSIONS,
            30 if quick else OBJECTS,
        )
        print("memory ...", flush=True)
        memory = memory_phase(root, 20 if quick else OUTPUT_MB)
        print("write-through ...", flush=True)
        writes = latency_phase(root, 20 if quick else CALLS)
    result = {
        "restart": restart,
        "memory": memory,
        "write_through": writes,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": machine(),
    }
    if quick:  # a smoke run: not a measurement to keep
        print(json.dumps(result, indent=2))
    else:
        write_results(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
