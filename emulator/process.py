"""Run the emulator as a child process (what `make run`, `make airflow` and e2e tests use).

A separate process, not a thread, because the DAG runs in its own `airflow` processes and the
emulator must outlive none of them: the parent stops it with SIGTERM, which stops its jobs, and
the child is started with ``PR_SET_PDEATHSIG`` = SIGTERM, so a parent that is killed (Ctrl-C,
SIGTERM or SIGKILL of `make run`) still stops its emulator.

One local account: when an emulator already serves the data dir (`make airflow` is running, say),
``start()`` joins it instead of starting a second one, and ``stop()`` leaves it running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from emulator import linux
from emulator.data_dir import holder

READY_LINE = re.compile(r"emulator ready at (?P<url>http://\S+)")


def stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies, however it dies."""
    linux.die_with_parent(signal.SIGTERM)


class EmulatorProcess:
    """``with EmulatorProcess(data_dir) as emulator: emulator.url`` -> a healthy endpoint."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 0,
        max_jobs: int = 2,
        log_path: Path | str | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.max_jobs = max_jobs
        self.log_path = Path(log_path) if log_path else self.data_dir / "emulator.log"
        self.startup_timeout = startup_timeout
        self.url = ""
        self.joined = False  # True when another process's emulator serves the data dir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmulatorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        running = holder(self.data_dir)
        if running and running.get("url") and self._healthy(running["url"]):
            self.url, self.joined = running["url"], True
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--max-jobs",
            str(self.max_jobs),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=stop_with_parent,  # one prctl call: safe between fork and exec
        )
        log.close()
        self.url = self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> str:
        deadline = time.monotonic() + self.startup_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with code {self._process.returncode} during start-up; "
                    f"see {self.log_path}"
                )
            match = READY_LINE.search(self.log_path.read_text(errors="replace"))
            if match and self._healthy(match["url"]):
                return match["url"]
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"emulator not healthy after {self.startup_timeout}s; see {self.log_path}"
        )

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=2) as response:
                return response.status == 200 and json.load(response).get("status") == "ok"
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
