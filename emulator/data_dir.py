"""One emulator per data dir: an exclusive lock that names its holder.

Two emulators on one data dir would interleave writes to the same SQLite database and S3
mirror. The first takes an exclusive ``flock`` on ``<data dir>/emulator.lock`` and writes its
pid and URL there; the kernel drops the lock when that process ends, however it ends (SIGKILL
included), so a stale file never blocks a restart. A second emulator refuses to start and names
the first; ``holder()`` lets `make run` join an emulator that is already serving the data dir.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

LOCK_NAME = "emulator.lock"


class DataDirInUse(RuntimeError):
    """Another live emulator holds the data dir."""


def holder(data_dir: Path) -> dict[str, Any] | None:
    """``{"pid", "url"}`` of the emulator holding ``data_dir``, or None when none does."""
    path = Path(data_dir) / LOCK_NAME
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held: read who holds it
            try:
                return json.loads(handle.read() or "{}")
            except ValueError:
                return {}
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class DataDirLock:
    """Held for the emulator's lifetime; ``release()`` (or the process's end) lets go."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not "w": truncating before the lock is taken would wipe the holder's details.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                details = json.loads(self._handle.read() or "{}")
            except ValueError:
                details = {}
            self._handle.close()
            raise DataDirInUse(
                f"the data dir {self.path.parent} is in use by another emulator "
                f"(pid {details.get('pid', '?')}, {details.get('url') or 'starting'}); stop it "
                "or choose another --data-dir"
            ) from None
        self.record(url=None)

    def record(self, *, url: str | None) -> None:
        """Write who holds the lock (the URL once the server listens)."""
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps({"pid": os.getpid(), "url": url}))
        self._handle.flush()

    def release(self) -> None:
        if self._handle.closed:
            return
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.flush()
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
