"""What the benchmarks share: running a program as a child process and reading its own wall
time and peak memory, and a description of the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float


def run_measured(command: list[str], *, cwd: Path | None = None) -> Measured:
    """Run ``command``; its wall time and its own peak RSS (``wait4`` gives the child's usage,
    which ``getrusage(RUSAGE_CHILDREN)`` would mix with every earlier child's)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{command[1:3]} exited {process.returncode}:\n{tail}")
    return Measured(round(elapsed, 3), round(usage.ru_maxrss / 1024, 1))  # ru_maxrss is KiB


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, str | int | float]:
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
    }
