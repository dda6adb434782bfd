"""Emulator overhead per processing job: create -> Completed seen by Describe, minus the
script's own run time (measured inside the script), and each job environment's first build.

1. First build: every image tag's environment (emulator/environments.py SPECS) is built into a
   fresh, empty ``EMULATOR_ENV_CACHE`` in a temporary directory, one at a time, each in its own
   process (as a first job would trigger it), timed. uv's download cache stays as it is (warm
   on a machine that built the environments before): this is the cost of a first use on such a
   machine, not of the first download of the wheels.
2. Once built: JOBS processing jobs per environment, with that image's Python and libraries,
   side by side in the same run, plus the emulator's own environment (the explicit opt-in) as
   the baseline. The top-level numbers are the project's preprocessing image, scikit-learn 1.2-1.

3. Library imports: in each built environment, the CPU a fresh interpreter spends importing
   the image's frameworks as a job starts them (``PYTHONDONTWRITEBYTECODE=1``, as jobs run),
   side by side: from the bytecode the build compiled, and from source (``-X pycache_prefix``
   pointing at an empty directory, Python 3.8+), which every job paid when environments were
   built without bytecode.

Run: `.venv/bin/python -m bench.emulator_job_overhead`. Goal: median under 0.3 s once built.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from bench.measure import write_results
from emulator import environments
from emulator.server import EmulatorServer

RESULTS = Path(__file__).resolve().parent / "results" / "emulator_job_overhead.json"
JOBS = 10  # for the project's preprocessing image (the top-level numbers)
JOBS_PER_ENVIRONMENT = 5
PRIMARY_IMAGE = "sagemaker-scikit-learn:1.2-1"
# A first build that takes longer than this is reported as such, not waited for.
BUILD_TIMEOUT_S = 600
BUILD_ONE = """
import json, sys, time
from emulator import environments
spec = environments.SPECS[(sys.argv[1], sys.argv[2])]
started = time.perf_counter()
built = environments.ensure(spec)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "python": built.python_version, "notes": built.notes}))
"""
# The script times itself from its first statement; what remains is the emulator's cost
# (S3 copies, sandbox, process start, log upload, status polling at 20 ms).
SCRIPT = b"""import time
started = time.perf_counter()
time.sleep(0.2)
open("/opt/ml/processing/output/runtime.txt", "w").write(str(time.perf_counter() - started))
"""


def first_build(spec: environments.Spec, cache: Path) -> dict[str, Any]:
    """Build ``spec``'s environment into the empty ``cache`` in a process of its own."""
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", BUILD_ONE, spec.repository, spec.tag]
    env = {**os.environ, environments.CACHE_VARIABLE: str(cache), "PYTHONPATH": str(root)}
    env.pop(environments.MODE_VARIABLE, None)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return {"image": spec.image, "error": f"not built within {BUILD_TIMEOUT_S} s"}
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"image": spec.image, "error": reason[:300]}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "image": spec.image,
        "first_build_s": round(report["seconds"], 2),
        "process_s": round(time.perf_counter() - started, 2),
        "python": report["python"],
        # The container's own interpreter: notes about packages (a nearest release) aside.
        "exact": not any(note.startswith("Python ") for note in report["notes"]),
    }


IMPORT_REPEATS = 3
# Distribution name -> the module a script imports, where they differ.
MODULE_NAMES = {"scikit-learn": "sklearn"}


def import_cpu_s(python: str, modules: list[str], from_source: bool) -> float:
    """Median CPU seconds (user + sys) of a fresh ``python`` importing ``modules``, as a job
    starts (PYTHONDONTWRITEBYTECODE=1); ``from_source``: with no bytecode to read."""
    samples = []
    for _ in range(IMPORT_REPEATS):
        with tempfile.TemporaryDirectory() as empty:
            options = ["-X", f"pycache_prefix={empty}"] if from_source else []
            command = [python, *options, "-W", "ignore", "-c", f"import {', '.join(modules)}"]
            before = os.times()
            subprocess.run(
                command,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                check=True,
                capture_output=True,
            )
            after = os.times()
        samples.append(
            after.children_user
            - before.children_user
            + after.children_system
            - before.children_system
        )
    return round(statistics.median(samples), 2)


def library_imports(spec: environments.Spec) -> dict[str, Any]:
    """The frameworks' import CPU in ``spec``'s built environment, from bytecode and source."""
    built = environments.ensure(spec)
    modules = [MODULE_NAMES.get(name, name) for name, _ in spec.packages]
    row: dict[str, Any] = {"import_cpu_s": import_cpu_s(built.python, modules, False)}
    if tuple(int(part) for part in built.python_version.split(".")[:2]) >= (3, 8):
        row["import_cpu_from_source_s"] = import_cpu_s(built.python, modules, True)
    return row


def run_jobs(sagemaker: Any, s3: Any, image: str, count: int, label: str) -> dict[str, Any]:
    """``count`` processing jobs on ``image``: overhead = total - the script's own time."""
    overheads, totals = [], []
    for index in range(count):
        name = f"bench-{label}-{index}"
        started = time.perf_counter()
        sagemaker.create_processing_job(
            ProcessingJobName=name,
            RoleArn="arn:aws:iam::123456789012:role/bench",
            ProcessingResources={
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
            AppSpecification={
                "ImageUri": image,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
            },
            ProcessingInputs=[
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": "s3://bench-bucket/code/job.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            ProcessingOutputConfig={
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": f"s3://bench-bucket/out/{name}",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        )
        while True:
            status = sagemaker.describe_processing_job(ProcessingJobName=name)
            if status["ProcessingJobStatus"] != "InProgress":
                break
            time.sleep(0.02)
        total = time.perf_counter() - started
        assert status["ProcessingJobStatus"] == "Completed", status.get("FailureReason")
        body = s3.get_object(Bucket="bench-bucket", Key=f"out/{name}/runtime.txt")["Body"]
        overheads.append(total - float(body.read()))
        totals.append(total)
    return {
        "jobs": count,
        "overhead_median_s": round(statistics.median(overheads), 4),
        "overhead_p90_s": round(sorted(overheads)[int(0.9 * (count - 1))], 4),
        "overhead_min_s": round(min(overheads), 4),
        "total_median_s": round(statistics.median(totals), 4),
    }


def main(argv: list[str] | None = None) -> dict:
    specs = list(environments.SPECS.values())
    with tempfile.TemporaryDirectory(prefix="bench-envs-") as cache:
        builds = {spec.image: first_build(spec, Path(cache)) for spec in specs}
        saved = {
            k: os.environ.get(k) for k in (environments.CACHE_VARIABLE, environments.MODE_VARIABLE)
        }
        os.environ[environments.CACHE_VARIABLE] = cache  # the jobs use what was just built
        os.environ.pop(environments.MODE_VARIABLE, None)
        try:
            result = measure_jobs(specs, builds)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    write_results(RESULTS, result)
    return result


def measure_jobs(specs: list[environments.Spec], builds: dict[str, dict[str, Any]]) -> dict:
    with tempfile.TemporaryDirectory() as data_dir, EmulatorServer(data_dir, port=0) as server:
        kwargs = {
            "endpoint_url": server.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        s3 = boto3.client("s3", **kwargs)
        sagemaker = boto3.client("sagemaker", **kwargs)
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="code/job.py", Body=SCRIPT)
        primary = run_jobs(sagemaker, s3, PRIMARY_IMAGE, JOBS, "primary")
        rows = []
        for spec in specs:
            row = dict(builds[spec.image])
            if "error" not in row:
                label = f"{spec.repository.removeprefix('sagemaker-')}-{spec.tag.replace('.', '-')}"
                row.update(run_jobs(sagemaker, s3, spec.image, JOBS_PER_ENVIRONMENT, label))
                row.update(library_imports(spec))
            rows.append(row)
        os.environ[environments.MODE_VARIABLE] = "emulator"  # the opt-in, as the baseline
        try:
            own = run_jobs(sagemaker, s3, PRIMARY_IMAGE, JOBS_PER_ENVIRONMENT, "own")
        finally:
            os.environ.pop(environments.MODE_VARIABLE, None)
    return {
        **primary,
        "primary_image": PRIMARY_IMAGE,
        "environments": rows,
        "emulator_own_environment": {**own, "python": platform.python_version()},
        "uv_download_cache": "warm (the wheels were downloaded by earlier builds)",
        "machine": f"{platform.machine()}, {platform.python_version()}, "
        f"{len(os.sched_getaffinity(0))} cores",
    }


if __name__ == "__main__":
    main()
