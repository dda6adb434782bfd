"""Fixtures of the client tests: the SDK 2 environment and a small slice of the bundled data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sdk2_environment import sdk2_python

ADULT_CSV = Path(__file__).resolve().parents[3] / "include" / "data" / "adult.csv"
CLIENTS = Path(__file__).parent
# Every 8th row of the bundled data: about 4,000 rows, enough for an accuracy above 0.8 and
# small enough that every job of a client test takes a second or two.
SLICE_STEP = 8


@pytest.fixture(scope="session")
def sdk2() -> Path:
    """The SDK 2 interpreter (its environment built once per machine, then reused)."""
    return sdk2_python()


@pytest.fixture(scope="session")
def adult_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = ADULT_CSV.read_text().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("adult-slice") / "adult.csv"
    path.write_text(lines[0] + "".join(lines[1::SLICE_STEP]))
    return path


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """The client's working directory, with the job scripts it uploads."""
    import shutil

    shutil.copytree(CLIENTS / "job_scripts", tmp_path / "job_scripts")
    return tmp_path
