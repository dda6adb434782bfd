"""The SDK 2 client environment is built once per cache, even by concurrent first users."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.support import sdk2_environment


def test_concurrent_first_uses_build_once_and_later_uses_reuse_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []

    def fake_build(target: Path, python: str) -> None:
        builds.append(target)
        time.sleep(0.2)  # long enough for the other callers to reach the lock
        (target / "bin").mkdir(parents=True)
        (target / sdk2_environment.MARKER).write_text("{}")

    monkeypatch.setattr(sdk2_environment, "_build", fake_build)
    results: list[Path] = []
    callers = [
        threading.Thread(target=lambda: results.append(sdk2_environment.sdk2_python(tmp_path)))
        for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(builds) == 1
    assert len(set(results)) == 1
    (python,) = set(results)
    assert python == sdk2_environment.environment_dir(tmp_path) / "bin" / "python"
    assert sdk2_environment.sdk2_python(tmp_path) == python
    assert len(builds) == 1
    # Nothing of the build's temporary directory is left beside the environment.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        python.parent.parent.name
    ]


def test_a_new_lock_file_names_a_new_environment(tmp_path: Path, monkeypatch) -> None:
    before = sdk2_environment.environment_dir(tmp_path)
    lock = tmp_path / "other.lock"
    lock.write_text(sdk2_environment.LOCK_FILE.read_text() + "# changed\n")
    monkeypatch.setattr(sdk2_environment, "LOCK_FILE", lock)
    assert sdk2_environment.environment_dir(tmp_path) != before
