"""The scripts `make venv` and `make test` run first, each with fake commands on PATH in a
directory of its own: ensure_venv.sh syncs the venv only when it is missing or the lock changed,
and keeps a failed sync from counting as done; ensure_system_tools.sh says what to install
where it cannot install it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
BASH = shutil.which("bash") or "/bin/bash"
UV_VERSION = "0.0.1"


def write_command(directory: Path, name: str, body: str) -> Path:
    """An executable shell script ``name`` in ``directory`` that runs ``body``."""
    directory.mkdir(parents=True, exist_ok=True)
    command = directory / name
    command.write_text(f"#!{BASH}\n{body}\n", encoding="utf-8")
    command.chmod(0o755)
    return command


# Each fake logs its name and arguments; `python -m venv DIR` creates DIR/bin/python, that
# python's `-m pip install` creates the venv's uv, and uv fails when FAIL_SYNC is set.
LOG = 'echo "$(basename "$0") $*" >> "$CALLS"'
FAKE_PYTHON = f"""{LOG}
if [[ "$1 $2" == "-m venv" ]]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
elif [[ "$1 $2" == "-m pip" ]]; then
  cp "$FAKE_UV" "$(dirname "$0")/uv"
fi"""
FAKE_UV = f"""{LOG}
[[ -z "${{FAIL_SYNC:-}}" ]]"""


class VenvSetup:
    """A project directory with a requirements.lock, where ensure_venv.sh runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / ".venv"
        self.calls = root / "calls"
        (root / "requirements.lock").write_text("package==1.0 --hash=sha256:00\n")
        self.python = write_command(root / "system", "python3", FAKE_PYTHON)
        self.uv = write_command(root / "system", "uv", FAKE_UV)

    def stamp(self) -> str:
        """What the venv records once synced: the lock's hash and the sync's recipe."""
        lock_hash = hashlib.sha256((self.root / "requirements.lock").read_bytes()).hexdigest()
        return f"{lock_hash} compile-bytecode\n"

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        self.calls.write_text("")
        environment = {**os.environ, "CALLS": str(self.calls), "FAKE_UV": str(self.uv), **env}
        return subprocess.run(
            [BASH, str(TOOLS / "ensure_venv.sh"), str(self.python), str(self.venv), UV_VERSION],
            cwd=self.root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def logged(self) -> list[str]:
        return self.calls.read_text().splitlines()


@pytest.fixture()
def setup(tmp_path: Path) -> VenvSetup:
    return VenvSetup(tmp_path)


SYNC = (
    "uv pip sync --quiet --compile-bytecode --python {venv}/bin/python --require-hashes "
    "requirements.lock"
)


def test_a_missing_venv_is_created_with_the_pinned_uv_and_synced(setup: VenvSetup) -> None:
    result = setup.run()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"setting up {setup.venv} from requirements.lock\n"
    assert setup.logged() == [
        f"python3 -m venv {setup.venv}",
        f"python -m pip install --quiet uv=={UV_VERSION}",
        SYNC.format(venv=setup.venv),
    ]
    assert (setup.venv / ".lock-sha256").read_text() == setup.stamp()


def test_an_up_to_date_venv_is_left_alone(setup: VenvSetup) -> None:
    assert setup.run().returncode == 0
    result = setup.run()
    assert (result.returncode, result.stdout, setup.logged()) == (0, "", [])


def test_a_changed_lock_syncs_the_existing_venv_again(setup: VenvSetup) -> None:
    assert setup.run().returncode == 0
    (setup.root / "requirements.lock").write_text("package==2.0 --hash=sha256:11\n")
    result = setup.run()
    assert result.returncode == 0, result.stderr
    assert setup.logged() == [SYNC.format(venv=setup.venv)]
    assert (setup.venv / ".lock-sha256").read_text() == setup.stamp()


def test_a_venv_synced_by_an_earlier_recipe_is_synced_again(setup: VenvSetup) -> None:
    assert setup.run().returncode == 0
    lock_hash = setup.stamp().split()[0]
    (setup.venv / ".lock-sha256").write_text(lock_hash + "\n")  # synced without bytecode
    result = setup.run()
    assert result.returncode == 0, result.stderr
    assert setup.logged() == [SYNC.format(venv=setup.venv)]
    assert (setup.venv / ".lock-sha256").read_text() == setup.stamp()


def test_a_failed_sync_fails_and_is_tried_again_next_time(setup: VenvSetup) -> None:
    assert setup.run(FAIL_SYNC="1").returncode != 0
    assert not (setup.venv / ".lock-sha256").exists()
    result = setup.run()
    assert result.returncode == 0, result.stderr
    assert setup.logged() == [SYNC.format(venv=setup.venv)]


def run_system_tools(tmp_path: Path, uid: int, present: list[str]) -> subprocess.CompletedProcess:
    """ensure_system_tools.sh with only ``present`` (and an `id` saying ``uid``) on PATH."""
    bin_dir = tmp_path / "bin"
    write_command(bin_dir, "id", f"echo {uid}")
    for name in present:
        write_command(bin_dir, name, "exit 0")
    return subprocess.run(
        [BASH, str(TOOLS / "ensure_system_tools.sh")],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nothing_is_done_when_the_tools_are_there(tmp_path: Path) -> None:
    result = run_system_tools(tmp_path, 0, ["docker-compose", "chromium", "apt-get"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("uid", "present", "missing"),
    [
        (1000, ["apt-get"], "docker-compose chromium"),  # not root: apt-get would refuse
        (0, ["docker-compose"], "chromium"),  # root without apt: not a Debian machine
    ],
    ids=["not-root", "no-apt"],
)
def test_what_cannot_be_installed_is_named_and_the_setup_goes_on(
    tmp_path: Path, uid: int, present: list[str], missing: str
) -> None:
    result = run_system_tools(tmp_path, uid, present)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == (
        f"note: please install {missing} (Debian packages); tests that need them will fail\n"
    )
