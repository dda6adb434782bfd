"""An endpoint's container logs in CloudWatch Logs while it serves, as SageMaker sends them.

SageMaker streams each hosting instance's stdout/stderr to the log group
``/aws/sagemaker/Endpoints/<endpoint>``, one stream per instance named
``<variant>/<instance id>`` (the Developer Guide's "Log Amazon SageMaker Events with Amazon
CloudWatch"), from the moment the container starts, so a model that fails to load leaves its
traceback there too. A ``LogFollower`` does that for one variant: it watches the variant's
``instance-N.log`` files (hosting.WorkerPool writes them) and sends their new complete lines
every ``INTERVAL_S``; ``stop`` sends what is left, the unfinished last line included.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.sagemaker import jobs

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

INTERVAL_S = 1.0
# Read at most this much of one file per pass, so a flood cannot hold the thread for long.
READ_LIMIT = 1 << 20


class LogFollower:
    """Follows ``<directory>/instance-*.log`` into ``group``, a stream per instance file."""

    def __init__(self, engine: Engine, group: str, variant: str, directory: Path) -> None:
        self.engine = engine
        self.group = group
        self.variant = variant
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self._streams: dict[Path, str] = {}
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # one pass at a time: the thread's and stop()'s
        self._thread = threading.Thread(
            target=self._run, name=f"logs-{group.rsplit('/', 1)[-1]}-{variant}", daemon=True
        )

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stream_of(self, path: Path) -> str:
        """``AllTraffic/i-0f3c...``: an EC2-style instance id per instance, fixed for its life."""
        if path not in self._streams:
            self._streams[path] = f"{self.variant}/i-{secrets.token_hex(9)[:17]}"
        return self._streams[path]

    def _run(self) -> None:
        while not self._stopped.wait(INTERVAL_S):
            self.send_new(final=False)

    def send_new(self, final: bool) -> None:
        """Send each file's lines written since the last pass (complete ones unless final)."""
        with self._lock:
            for path in sorted(self.directory.glob("instance-*.log")):
                # A final pass reads to the end; the others come back within INTERVAL_S.
                while self._send_file(path, final) and final:
                    pass

    def _send_file(self, path: Path, final: bool) -> bool:
        """Send one piece of the file; True when there may be more to read."""
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(READ_LIMIT)
        except OSError:
            return False
        more = len(chunk) == READ_LIMIT
        if not final or more:
            cut = chunk.rfind(b"\n") + 1
            if cut or not more:  # the unfinished line waits for its end, unless over a piece
                chunk = chunk[:cut]
        if not chunk:
            return False
        self._offsets[path] = offset + len(chunk)
        lines = chunk.decode(errors="replace").splitlines()
        try:
            jobs.publish_logs(
                self.engine,
                self.group,
                self.stream_of(path),
                lines,
                int(time.time() * 1000) - len(lines),
            )
        except Exception:  # logs are best effort; serving goes on
            jobs.log.exception("sending %s to %s failed", path, self.group)
        return more

    def stop(self) -> None:
        """Stop following, after sending everything the instances wrote."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.send_new(final=True)
