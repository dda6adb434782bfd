"""Stopping a command that a test started in a session of its own, with all it started."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_session(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the process group of ``process`` (started with ``start_new_session=True``), and
    SIGKILL it if ``process`` has not ended ``grace`` seconds later."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
