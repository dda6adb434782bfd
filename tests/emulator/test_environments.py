"""Per-image environments: the spec table, "nearest" versions, building once, jobs using them.

Environments the jobs use live in the default cache (or ``EMULATOR_ENV_CACHE``), shared by the
whole test session and later runs; only the build tests use a cache of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from emulator import environments, image_packages
from tests.conftest import (
    CODE_DIR,
    processing_input,
    processing_output,
    processing_request,
    script_entrypoint,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
SKLEARN_0_23 = f"{REGISTRY}/sagemaker-scikit-learn:0.23-1-cpu-py3"
SKLEARN_1_2 = f"{REGISTRY}/sagemaker-scikit-learn:1.2-1-cpu-py3"


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(environments.SPECS), ids="{0[0]}:{0[1]}".format)
def test_every_tag_resolves_with_and_without_the_sdk_suffix(key: tuple[str, str]) -> None:
    repository, tag = key
    spec = environments.SPECS[key]
    assert environments.spec_for(f"{REGISTRY}/{repository}:{tag}") is spec
    assert environments.spec_for(f"{REGISTRY}/{repository}:{tag}-cpu-py3") is spec
    names = dict(spec.packages)
    assert {"pandas", "numpy", "scikit-learn", "scipy"} <= set(names)
    assert ("xgboost" in names) == (repository == "sagemaker-xgboost")
    assert spec.python.startswith("3.") and "github.com/aws/" in spec.source


def test_the_table_has_the_images_the_tutorial_uses() -> None:
    tags = environments.supported_tags()
    assert {"0.23-1", "1.0-1", "1.2-1", "1.4-2"} <= set(tags["sagemaker-scikit-learn"])
    assert {"1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "3.0-5"} <= set(
        tags["sagemaker-xgboost"]
    )
    old = environments.spec_for(SKLEARN_0_23)
    assert old.python == "3.7" and dict(old.packages)["pandas"] == "1.1.3"


@pytest.mark.parametrize(
    "image",
    [f"{REGISTRY}/sagemaker-scikit-learn:9.9-9", f"{REGISTRY}/sagemaker-xgboost"],
)
def test_an_unknown_tag_fails_naming_the_supported_tags(image: str) -> None:
    with pytest.raises(environments.EnvironmentFailure) as caught:
        environments.spec_for(image)
    message = str(caught.value)
    assert message.startswith("ClientError:")
    assert "sagemaker-scikit-learn: 0.23-1, 1.0-1, 1.2-1" in message
    assert "1.7-1" in message and "3.0-5" in message


# --- "nearest" versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "line_end"),
    [
        ("pandas", "1.1.3", "2"),
        ("numpy", "1.19.2", "2"),
        ("scipy", "1.8.0", "2"),
        ("scikit-learn", "0.23.2", "0.24"),
        ("scikit-learn", "1.0.2", "1.1"),
        ("xgboost", "1.7.4", "1.8"),
    ],
)
def test_a_release_line_is_major_or_for_sklearn_and_xgboost_minor(
    name: str, version: str, line_end: str
) -> None:
    assert environments.next_line(name, version) == line_end
    assert environments.same_line(name, version) == f"{name}>={version},<{line_end}"


def test_candidates_go_exact_then_newest_of_the_line_then_the_next_line() -> None:
    assert environments.candidates("pandas", "1.1.3") == [
        ("pandas==1.1.3", "highest", "exact"),
        ("pandas>=1.1.3,<2", "highest", "same line"),
        ("pandas>1.1.3", "lowest", "later line"),
    ]


def test_nearest_notes_say_what_ran_instead_and_why() -> None:
    assert environments.nearest_note("pandas", "1.1.3", "1.1.3", "3.11", True) is None
    assert (
        environments.nearest_note("pandas", "1.1.3", "1.5.3", "3.11", True)
        == "pandas 1.5.3 for 1.1.3 — no wheel for Python 3.11"
    )
    assert "to fit the others" in environments.nearest_note(
        "scipy", "1.8.0", "1.15.3", "3.11", False
    )


def test_the_description_names_interpreter_versions_and_exactness() -> None:
    exact = environments.Environment(
        "sagemaker-scikit-learn:1.2-1", "/x/bin/python", "3.9.18", {"pandas": "1.1.3"}
    )
    assert exact.description() == (
        "[emulator] environment sagemaker-scikit-learn:1.2-1: Python 3.9.18, pandas 1.1.3 (exact)"
    )
    nearest = environments.Environment(
        "i:t", "p", "3.11.7", {"pandas": "1.5.3"}, ["pandas 1.5.3 for 1.1.3 — no wheel"]
    )
    assert nearest.description().endswith("(nearest: pandas 1.5.3 for 1.1.3 — no wheel)")


# --- building -----------------------------------------------------------------------------------


def test_a_real_build_is_made_once_and_reused(tmp_path: Path, monkeypatch) -> None:
    spec = environments.SPECS[("sagemaker-scikit-learn", "1.2-1")]
    # The image's frameworks with two of the rest of its set: the whole set is a minute of
    # building, which test_image_packages and the per-image job tests cover.
    images = tmp_path / "images" / spec.repository
    images.mkdir(parents=True)
    (images / f"{spec.tag}.txt").write_text("six==1.15.0\nretrying==1.3.3\n")
    monkeypatch.setattr(image_packages, "IMAGES_DIR", tmp_path / "images")
    tmp_path = tmp_path / "cache"
    calls: list[Path] = []

    def counting(*args) -> None:
        calls.append(args[1])
        environments.build(*args)

    started = time.monotonic()
    first = environments.ensure(spec, cache=tmp_path, builder=counting)
    built_in = time.monotonic() - started
    assert first.path is not None and first.path.parent == tmp_path
    marker = first.path / environments.MARKER
    stamp = marker.stat().st_mtime_ns
    recorded = json.loads(marker.read_text())
    assert recorded["packages"] == first.packages and recorded["installed"]
    # As a later job (memo) and as another emulator process would (marker only).
    again = environments.ensure(spec, cache=tmp_path, builder=counting)
    environments._MEMO.clear()
    started = time.monotonic()
    fresh = environments.ensure(spec, cache=tmp_path, builder=counting)
    assert time.monotonic() - started < max(1.0, built_in)
    assert len(calls) == 1 and again.path == fresh.path == first.path
    assert marker.stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.is_dir()]
    ran = subprocess.run(
        [
            first.python,
            "-c",
            "import pandas, sklearn, retrying; print(pandas.__version__, sklearn.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == [first.packages["pandas"], first.packages["scikit-learn"]]
    # Installed with its bytecode, as pip leaves it in the image: jobs (which may not write
    # .pyc files) do not compile pandas from source each time.
    compiled = list(first.path.glob("lib/python3.*/site-packages/pandas/__pycache__/*.pyc"))
    assert any(path.name.startswith("__init__.") for path in compiled)
    assert first.description().startswith(
        "[emulator] environment sagemaker-scikit-learn:1.2-1: Python 3."
    )


def test_concurrent_first_uses_build_once(tmp_path: Path) -> None:
    spec = environments.SPECS[("sagemaker-xgboost", "1.5-1")]
    calls: list[str] = []

    def slow(spec, target: Path, python: str, version: str, exact: bool) -> None:
        calls.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough for the other thread to arrive at the lock
        target.mkdir(parents=True)
        marker = {"python_version": version, "packages": dict(spec.packages), "notes": []}
        (target / environments.MARKER).write_text(json.dumps(marker))

    results: list[environments.Environment] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(environments.ensure(spec, cache=tmp_path, builder=slow))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1 and len(results) == 2
    assert results[0].path == results[1].path


def test_a_failed_build_leaves_nothing_and_reports_uv(tmp_path: Path) -> None:
    spec = environments.Spec(
        "sagemaker-scikit-learn",
        "0.0-test",
        "3.11",
        (("no-such-package-for-the-emulator-tests", "1.0.0"),),
        "test",
    )
    with pytest.raises(environments.EnvironmentFailure) as caught:
        environments.ensure(spec, cache=tmp_path)
    assert "no-such-package-for-the-emulator-tests" in str(caught.value)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_the_emulators_own_environment_is_an_explicit_loud_opt_in(monkeypatch) -> None:
    monkeypatch.setenv(environments.MODE_VARIABLE, "emulator")
    own = environments.environment_for(SKLEARN_0_23)
    assert own.own and "WARNING" in own.description() and "OWN" in own.description()
    monkeypatch.delenv(environments.MODE_VARIABLE)
    assert not environments.environment_for(SKLEARN_1_2).own


# --- jobs ---------------------------------------------------------------------------------------

OLD_PANDAS_SCRIPT = b"""
import pandas as pd
print("pandas", pd.__version__)
# pandas 1.x only: pandas 2 deprecated error_bad_lines, pandas 3 refuses it.
frame = pd.read_csv("/opt/ml/processing/input/data/bad.csv", error_bad_lines=False)
with open("/opt/ml/processing/output/result.txt", "w") as handle:
    handle.write("%s %d" % (pd.__version__, len(frame)))
"""


LOCAL = {"out": "output"}
DATA_DIR = "/opt/ml/processing/input/data"


def run_processing(aws, bucket: str, image: str, script: bytes, files: dict, args=()) -> tuple:
    name = f"env-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"{name}/in/{key}", Body=body)
    s3.put_object(Bucket=bucket, Key=f"{name}/code/job.py", Body=script)
    outputs = ["out", "train", "validation", "test", "schema"]
    request = processing_request(
        name,
        [*script_entrypoint("job.py"), *args],
        image,
        inputs=[
            processing_input(input_name, f"s3://{bucket}/{name}/{prefix}", local)
            for input_name, prefix, local in (("data", "in", DATA_DIR), ("code", "code", CODE_DIR))
        ],
        outputs=[
            processing_output(
                output,
                f"s3://{bucket}/{name}/{output}",
                f"/opt/ml/processing/{LOCAL.get(output, output)}",
            )
            for output in outputs
        ],
    )
    aws("sagemaker").create_processing_job(
        **request, StoppingCondition={"MaxRuntimeInSeconds": 1800}
    )
    job = wait_for(
        lambda: aws("sagemaker").describe_processing_job(ProcessingJobName=name),
        "ProcessingJobStatus",
        timeout=900,
    )
    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    log = [
        event["message"]
        for stream in streams
        for event in aws("logs").get_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    return name, job, log


def test_a_processing_job_runs_with_its_images_pandas(aws, bucket) -> None:
    bad = b"a,b\n1,2\n3,4,5\n6,7\n"
    name, job, log = run_processing(aws, bucket, SKLEARN_0_23, OLD_PANDAS_SCRIPT, {"bad.csv": bad})
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    result = aws("s3").get_object(Bucket=bucket, Key=f"{name}/out/result.txt")["Body"].read()
    version, rows = result.decode().split()
    assert version.startswith("1.") and rows == "2"
    header = [line for line in log if line.startswith("[emulator] environment ")]
    assert header and header[0].startswith(
        "[emulator] environment sagemaker-scikit-learn:0.23-1: Python 3."
    )
    assert f"pandas {version}" in header[0]
    assert any(line == f"pandas {version}" for line in log)


def test_the_projects_preprocess_runs_in_the_sklearn_1_2_environment(aws, bucket) -> None:
    script = (ROOT / "include" / "scripts" / "preprocess.py").read_bytes()
    adult = (ROOT / "include" / "data" / "adult.csv").read_bytes()
    args = ["--input-dir", "/opt/ml/processing/input/data"]
    name, job, log = run_processing(aws, bucket, SKLEARN_1_2, script, {"adult.csv": adult}, args)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert any("environment sagemaker-scikit-learn:1.2-1" in line for line in log)
    keys = {
        item["Key"].split("/", 1)[1]
        for item in aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"{name}/")["Contents"]
    }
    assert {"train/train.csv", "validation/validation.csv", "test/test.csv"} <= keys, keys


def test_an_unknown_tag_fails_the_job_naming_the_supported_tags(aws, bucket) -> None:
    image = f"{REGISTRY}/sagemaker-scikit-learn:0.1-1"
    _, job, log = run_processing(aws, bucket, image, b"print('never')\n", {"x.csv": b"a\n"})
    assert job["ProcessingJobStatus"] == "Failed"
    assert "supported tags" in job["FailureReason"] and "1.2-1" in job["FailureReason"]
    assert not any(line == "never" for line in log)


IMAGE_SET_SCRIPT = b"""
import sys

import boto3
import botocore
import psutil
import requests
import sagemaker_containers
import sagemaker_inference

toolkit = sys.argv[1]
if toolkit == "sagemaker-training":
    import sagemaker_training
versions = "requests=%s boto3=%s botocore=%s psutil=%s" % (
    requests.__version__, boto3.__version__, botocore.__version__, psutil.__version__
)
print(versions)
with open("/opt/ml/processing/output/result.txt", "w") as handle:
    handle.write(versions)
"""


@pytest.mark.parametrize("key", sorted(environments.SPECS), ids="{0[0]}:{0[1]}".format)
def test_a_processing_script_imports_what_its_image_ships(aws, bucket, key) -> None:
    """requests, boto3 and the toolkits, as a script written for the container finds them."""
    repository, tag = key
    toolkit = "sagemaker-training" if repository == "sagemaker-scikit-learn" else "none"
    image = f"{REGISTRY}/{repository}:{tag}"
    name, job, log = run_processing(
        aws, bucket, image, IMAGE_SET_SCRIPT, {"x.csv": b"a\n"}, [toolkit]
    )
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    result = aws("s3").get_object(Bucket=bucket, Key=f"{name}/out/result.txt")["Body"].read()
    versions = dict(item.split("=") for item in result.decode().split())
    pins = {
        image_packages.requirement_name(req): image_packages.exact_pin(req)
        for req in image_packages.read_requirements(environments.SPECS[key].packages_file)
    }
    # Exact where the index has the image's release (all of these do, at every tag).
    assert versions["boto3"] == pins["boto3"] and versions["requests"] == pins["requests"]
    header = next(line for line in log if line.startswith("[emulator] environment "))
    assert f"boto3 {versions['boto3']}" in header and f"requests {versions['requests']}" in header


def test_a_builtin_algorithm_the_emulator_plays_runs_with_its_own_python() -> None:
    knn = environments.environment_for(f"{REGISTRY.replace('683313688378', '382416733822')}/knn:1")
    assert knn.stand_in is not None and knn.python == sys.executable
    assert "k-NN" in knn.description() and "WARNING" not in knn.description()
    with pytest.raises(environments.EnvironmentFailure, match="supported tags: 1, latest"):
        environments.environment_for("382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:2")
