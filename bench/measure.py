"""What the benchmarks share: running a program as a child process and reading its own wall
time and peak memory, a description of the machine, and writing a result file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float


# Runs the measured command and reports its own wait4() usage. A child started straight from
# a large parent (vfork, then exec) is charged the parent's resident pages as its peak, so the
# measured command is started from this small launcher instead.
LAUNCHER = """
import json, os, subprocess, sys, time
command, log = json.loads(sys.argv[1]), sys.argv[2]
with open(log, "wb") as output:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(process.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "code": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}))
"""


def run_measured(command: list[str], *, cwd: Path | None = None) -> Measured:
    """Run ``command``; its wall time and its own peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        launched = subprocess.run(
            [sys.executable, "-c", LAUNCHER, json.dumps(command), log.name],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=True,
        )
        report = json.loads(launched.stdout.strip().splitlines()[-1])
        if report["code"] != 0:
            tail = Path(log.name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{command[1:3]} exited {report['code']}:\n{tail}")
    return Measured(round(report["seconds"], 3), round(report["maxrss_kib"] / 1024, 1))


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


def write_results(path: Path, result: dict) -> None:
    """``result`` as ``path`` (bench/results/<name>.json, read by render.py), and on stdout."""
    text = json.dumps(result, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)
