"""Fixtures of the client tests: every client script, started together against one emulator.

The scripts would spend most of their time in the SDKs' own polling sleeps (``Model.deploy``
polls every 30 s, ``fit(logs=True)`` describes the job every 30 s); they start through
client_clock.py, whose clock lets those loops run as written without the waits. ``clients``
starts all of a test module's scripts (its ``CLIENT_SCRIPTS``) at once on first use and each
test waits for its own; they use names of their own, so they do not meet, and the SDK 2 and
SDK 3 modules can run on two test workers at once. Each works in a directory of its own, with
the job scripts it uploads.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sdk2_environment import ClientRun, sdk2_python

ADULT_CSV = Path(__file__).resolve().parents[3] / "include" / "data" / "adult.csv"
CLIENTS = Path(__file__).parent
# Every 8th row of the bundled data: about 4,000 rows, enough for an accuracy above 0.8 and
# small enough that every job of a client test takes a second or two.
SLICE_STEP = 8
# The emulator's threshold for the tutorial's ConditionStep.
ACCURACY_THRESHOLD = "0.75"


@pytest.fixture(scope="session")
def adult_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = ADULT_CSV.read_text().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("adult-slice") / "adult.csv"
    path.write_text(lines[0] + "".join(lines[1::SLICE_STEP]))
    return path


@pytest.fixture(scope="module")
def clients(
    request: pytest.FixtureRequest,
    emulator,
    bucket: str,
    adult_slice: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ClientRun]]:
    """Script name -> its running ClientRun, for the scripts the test module names (SDK 2
    scripts in the SDK 2 environment, built once per machine; SDK 3 scripts with the project's
    own interpreter)."""
    wanted = request.module.CLIENT_SCRIPTS
    data = str(adult_slice)
    tag = uuid.uuid4().hex[:6]
    sdk2 = sdk2_python() if any(name.startswith("sdk2_") for name in wanted) else ""
    plan = {
        "sdk2_pipeline_tutorial": (
            sdk2,
            (bucket, data, f"sdk2-tutorial-{tag}", f"sdk2-tutorial-{tag}", ACCURACY_THRESHOLD),
        ),
        "sdk2_estimator_hosting": (
            sdk2,
            (bucket, data, f"sdk2-hosting-{tag}", f"sdk2-hosting-{tag}"),
        ),
        "sdk2_tuner": (sdk2, (bucket, data, f"sdk2-tuner-{tag}")),
        "sdk2_framework_repack": (
            sdk2,
            (bucket, data, f"sdk2-repack-{tag}", f"sdk2-repack-{tag}"),
        ),
        "sdk3_pipeline": (
            sys.executable,
            (bucket, data, f"sdk3-pipeline-{tag}", f"sdk3-pipeline-{tag}", ACCURACY_THRESHOLD),
        ),
        "sdk3_hosting": (sys.executable, (bucket, data, f"sdk3-hosting-{tag}")),
    }
    runs: dict[str, ClientRun] = {}
    try:
        for name in wanted:
            python, args = plan[name]
            workdir = tmp_path_factory.mktemp(name)
            shutil.copytree(CLIENTS / "job_scripts", workdir / "job_scripts")
            runs[name] = ClientRun(
                CLIENTS / f"{name}.py", emulator.url, workdir, *args, python=python
            )
        yield runs
    finally:
        for run in runs.values():
            run.stop()
