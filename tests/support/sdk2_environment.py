"""A Python environment with the SageMaker Python SDK 2.x, for client tests written in SDK 2.

The project pins SDK 3 in its venv, so SDK 2 client code runs in an environment of its own:
built with uv from ``tests/support/sagemaker_sdk2/requirements.lock`` (hashes checked) on first
use, under the same cache root as the emulator's job environments
(``$EMULATOR_ENV_CACHE``, default ``~/.cache/adult-income-emulator/envs``), as
``client-sagemaker-sdk2-<hash>``; the hash covers the lock, the interpreter and the build
recipe, so a new lock builds a new environment. Later test runs reuse it. Two test processes that
start together build it once: an ``fcntl`` lock around the build, which goes into a temporary
directory renamed into place, with its marker written last (as emulator/environments.py does for
jobs).

Client scripts run in it as subprocesses (``run_client``) against an emulator's URL, reached
the way a user points boto3 at an endpoint: ``AWS_ENDPOINT_URL`` plus region and credentials.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from emulator import environments

LOCK_FILE = Path(__file__).parent / "sagemaker_sdk2" / "requirements.lock"
PYTHON = "3.11"
MARKER = "client-env.json"
BUILD_TIMEOUT_S = 900
# Part of the environment's hash: bump it when _build() changes what the environment holds.
# 2: packages are installed with their bytecode compiled (client scripts start in seconds).
BUILD_RECIPE = 2
# What a client script prints last, on a line of its own, is its result for the test to check.
RESULT_PREFIX = "CLIENT-RESULT "


# How a client script starts: client_clock installs the SDK's polling clock, then runs it.
CLOCKED_START = "import client_clock, sys; client_clock.main(sys.argv[1:])"


class ClientFailed(AssertionError):
    """A client script exited non-zero; the message carries its output's last lines."""


def _interpreter() -> tuple[str, str]:
    found = environments.find_interpreter(PYTHON)
    if found is not None:
        return found
    return sys.executable, ".".join(str(part) for part in sys.version_info[:3])


def environment_dir(cache: Path | None = None) -> Path:
    _, version = _interpreter()
    recipe = f"{version} {BUILD_RECIPE}".encode()
    digest = hashlib.sha256(LOCK_FILE.read_bytes() + recipe).hexdigest()[:12]
    return (cache or environments.cache_root()) / f"client-sagemaker-sdk2-{digest}"


def _uv(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)  # the project's venv must not be the one installed into
    return subprocess.run(
        [environments.uv_binary(), *args],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env=env,
    )


def _build(target: Path, python: str) -> None:
    for args in (
        ["venv", "--relocatable", "--quiet", "--python", python, str(target)],
        [
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(target / "bin" / "python"),
            "--require-hashes",
            "-r",
            str(LOCK_FILE),
        ],
    ):
        result = _uv(args)
        if result.returncode != 0:
            raise RuntimeError(f"uv {' '.join(args[:2])} failed:\n{result.stderr[-2000:]}")
    check = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import sagemaker; print(sagemaker.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    marker = {"lock": str(LOCK_FILE), "python": python, "sagemaker": check.stdout.strip()}
    (target / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def sdk2_python(cache: Path | None = None) -> Path:
    """The environment's interpreter, building the environment first if need be."""
    directory = environment_dir(cache)
    if (directory / MARKER).exists():
        return directory / "bin" / "python"
    directory.parent.mkdir(parents=True, exist_ok=True)
    with (directory.parent / f".{directory.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (directory / MARKER).exists():  # another process may have built it
                shutil.rmtree(directory, ignore_errors=True)  # an interrupted rename's leftover
                temporary = Path(
                    tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent)
                )
                try:
                    _build(temporary / "env", _interpreter()[0])
                    os.rename(temporary / "env", directory)
                finally:
                    shutil.rmtree(temporary, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return directory / "bin" / "python"


# The SDK's own defaults file (sagemaker.config): telemetry off, as an offline user sets it, so
# that no client call tries to reach AWS.
SDK_DEFAULTS = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def client_environment(endpoint_url: str, workdir: Path) -> dict[str, str]:
    """Variables of a client process: boto3 pointed at the emulator, nothing of the project's."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "EMULATOR_ENV_CACHE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    defaults = workdir / "sagemaker-defaults.yaml"
    defaults.write_text(SDK_DEFAULTS)
    env.update(
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        # No ~/.aws files or a user's SageMaker defaults config may leak into a test.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        SAGEMAKER_USER_CONFIG_OVERRIDE=str(defaults),
        SAGEMAKER_ADMIN_CONFIG_OVERRIDE=os.devnull,
        PYTHONUNBUFFERED="1",
        SAGEMAKER_SUPPRESS_V2_WARNING="1",  # SDK 2 is the point here
    )
    return env


class ClientRun:
    """One client script running as a subprocess; ``result()`` waits for what it reported.

    The script reports with ``report(value)`` from tests/emulator/clients/client_support.py,
    copied beside it into ``workdir`` so that the script imports nothing of the project. It
    starts through client_clock.py (copied too), so that the SDK's polling sleeps are short and
    its clock counts them whole. Its output goes to files in ``workdir`` (a pipe could fill up
    while nobody reads it).
    """

    def __init__(
        self,
        script: Path,
        endpoint_url: str,
        workdir: Path,
        *args: str,
        python: Path | str | None = None,
    ) -> None:
        interpreter = python or sdk2_python()
        self.name = script.name
        self.args = args
        shutil.copy(script, workdir / script.name)
        for helper in ("client_support.py", "client_clock.py"):
            shutil.copy(Path(script).parent / helper, workdir / helper)
        self._stdout = workdir / "client.stdout"
        self._stderr = workdir / "client.stderr"
        with self._stdout.open("w") as stdout, self._stderr.open("w") as stderr:
            self._process = subprocess.Popen(
                [str(interpreter), "-c", CLOCKED_START, script.name, *args],
                cwd=workdir,
                env=client_environment(endpoint_url, workdir),
                stdout=stdout,
                stderr=stderr,
                text=True,
            )

    def result(self, timeout: float = 600) -> Any:
        try:
            returncode = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ClientFailed(f"{self.name} still running after {timeout} s") from None
        stdout = self._stdout.read_text()
        output = stdout + self._stderr.read_text()
        if returncode != 0:
            tail = "\n".join(output.splitlines()[-120:])
            raise ClientFailed(f"{self.name} exited {returncode}:\n{tail}")
        reports = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if not reports:
            raise ClientFailed(f"{self.name} reported nothing:\n{output[-4000:]}")
        return json.loads(reports[-1][len(RESULT_PREFIX) :])

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def run_client(
    script: Path,
    endpoint_url: str,
    workdir: Path,
    *args: str,
    python: Path | str | None = None,
    timeout: float = 600,
) -> Any:
    """Run ``script`` with SDK 2 (or ``python``) in ``workdir``; return what it reported."""
    return ClientRun(script, endpoint_url, workdir, *args, python=python).result(timeout)
