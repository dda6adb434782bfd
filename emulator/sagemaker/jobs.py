"""What processing and training jobs share: the sandbox, S3 copies, the process, the logs.

A job's sandbox is a directory that plays the container's ``/opt/ml``. Two ways to show it:

- ``namespace``: the job runs in a private mount namespace (``unshare --mount``, mapping the
  caller to root in a user namespace when not root) where the sandbox is bind-mounted on
  ``/opt/ml``, so unmodified scripts that hard-code ``/opt/ml/...`` work;
- ``rewrite``: where the OS refuses namespaces, ``/opt/ml`` in the entrypoint, arguments and
  environment is rewritten to the sandbox path. The job log says which mode ran.

``EMULATOR_SANDBOX_MODE=rewrite|namespace`` forces one (tests cover both).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import posixpath
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.sagemaker.errors import ValidationError

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

log = logging.getLogger("emulator.jobs")

CONTAINER_ROOT = "/opt/ml"
STDERR_TAIL_LINES = 10
LOG_BATCH = 500
# A job that floods its output keeps its whole log on disk; CloudWatch gets the last lines.
MAX_PUBLISHED_LINES = 10_000


class JobFailure(Exception):
    """Ends a job as Failed with this FailureReason."""


class JobStopped(Exception):
    """Ends a job as Stopped (StopX* or MaxRuntimeInSeconds)."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def namespace_mode_available() -> bool:
    """Can this machine bind-mount a sandbox on /opt/ml in a private mount namespace?"""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        Path(CONTAINER_ROOT).mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"emulator-ns-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    (probe / "marker").write_text("ok")
    try:
        result = subprocess.run(
            [*namespace_prefix(probe), "cat", f"{CONTAINER_ROOT}/marker"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0 and result.stdout == b"ok"
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def namespace_prefix(sandbox: Path) -> list[str]:
    """Command prefix: new mount namespace, sandbox bound on /opt/ml, then exec the job."""
    user_ns = [] if os.geteuid() == 0 else ["--map-root-user"]
    # "$0" is the sandbox and "$@" the job's command: arguments, never interpolated text.
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        *user_ns,
        "sh",
        "-c",
        f'mount --bind "$0" {CONTAINER_ROOT} && exec "$@"',
        str(sandbox),
    ]


def sandbox_mode() -> str:
    forced = os.environ.get("EMULATOR_SANDBOX_MODE", "").strip().lower()
    if forced in {"namespace", "rewrite"}:
        return forced
    return "namespace" if namespace_mode_available() else "rewrite"


def local_path(sandbox: Path, container_path: str, what: str) -> Path:
    """The sandbox path for a container path under /opt/ml; anything else fails the job."""
    normal = posixpath.normpath(container_path)
    if not (normal == CONTAINER_ROOT or normal.startswith(CONTAINER_ROOT + "/")):
        raise JobFailure(f"ClientError: {what} {container_path!r} must be under {CONTAINER_ROOT}")
    return sandbox / normal[len(CONTAINER_ROOT) :].lstrip("/")


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobFailure(f"ClientError: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def inside(root: Path, relative: str) -> Path:
    """``root/relative``, refusing keys that would land outside ``root``."""
    if relative.startswith("/") or ".." in Path(relative).parts:
        raise JobFailure(f"ClientError: S3 key part {relative!r} would escape the job sandbox")
    target = (root / relative).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise JobFailure(f"ClientError: S3 key part {relative!r} would escape the job sandbox")
    return target


def download_prefix(s3: Any, uri: str, destination: Path) -> int:
    """Copy every object under ``uri`` (a prefix, or one exact object) into ``destination``."""
    bucket, prefix = split_s3_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                relative = key[len(prefix) :].lstrip("/") or posixpath.basename(key)
                target = inside(destination, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                count += 1
    except s3.exceptions.NoSuchBucket as exc:
        raise JobFailure(f"ClientError: bucket {bucket!r} of {uri} does not exist") from exc
    if count == 0:
        raise JobFailure(f"ClientError: no objects under {uri}")
    return count


def upload_dir(s3: Any, source: Path, uri: str) -> int:
    bucket, prefix = split_s3_uri(uri)
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = posixpath.join(prefix.rstrip("/"), path.relative_to(source).as_posix())
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count


@dataclass
class RunningProcess:
    """A job's process group; stop() ends it (TERM, then KILL)."""

    stopped: threading.Event = field(default_factory=threading.Event)
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        self.stopped.set()
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def python_for(command: list[str]) -> list[str]:
    """Framework images' ``python``/``python3`` is the emulator's own interpreter."""
    if command and posixpath.basename(command[0]) in {"python", "python3", "python3.8"}:
        return [sys.executable, *command[1:]]
    return command


def rewrite(value: str, sandbox: Path) -> str:
    return value.replace(CONTAINER_ROOT, str(sandbox))


def run_process(
    command: list[str],
    *,
    sandbox: Path,
    environment: dict[str, str],
    log_file: Path,
    control: RunningProcess,
    max_runtime: float | None,
    mode: str,
) -> int:
    """Run the job's command in its sandbox; returns the exit code or raises JobStopped."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(sandbox),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **environment,
    }
    if mode == "namespace":
        command = namespace_prefix(sandbox) + command
        cwd = sandbox
    else:
        command = [rewrite(part, sandbox) for part in command]
        env = {key: rewrite(value, sandbox) for key, value in env.items()}
        cwd = sandbox
    with log_file.open("ab") as output:
        control.process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: stop() kills children too
        )
        deadline = time.monotonic() + max_runtime if max_runtime else None
        while True:
            try:
                code = control.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                if control.stopped.is_set():  # killed by a StopX* from another thread
                    raise JobStopped("Stopped by request")
                return code
            if control.stopped.is_set():
                control.stop()
                raise JobStopped("Stopped by request")
            if deadline is not None and time.monotonic() > deadline:
                control.stop()
                raise JobStopped(f"MaxRuntimeInSeconds ({max_runtime:g} s) exceeded")


def tail(log_file: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def publish_logs(
    engine: Engine, group: str, stream: str, lines: Iterable[str], start_ms: int
) -> None:
    """Send the job's log to CloudWatch Logs, where the Airflow operators read it."""
    logs = engine.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    batch: list[dict[str, Any]] = []
    for offset, line in enumerate(lines):
        batch.append({"timestamp": start_ms + offset, "message": line[:200_000] or " "})
        if len(batch) == LOG_BATCH:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch = []
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)


def log_tail_lines(log_file: Path, limit: int) -> list[str]:
    """The last ``limit`` lines, read without loading a huge log into memory."""
    total = 0
    kept: deque[str] = deque(maxlen=limit)
    with log_file.open(errors="replace") as handle:
        for line in handle:
            total += 1
            kept.append(line.rstrip("\n"))
    if total > limit:
        kept.popleft()  # room for the note, so at most ``limit`` lines in all
        kept.appendleft(f"[emulator] {total - limit + 1} earlier lines are in the job's local log")
    return list(kept)


def publish_job_log(
    engine: Engine, group: str, name: str, log_file: Path, started: dt.datetime
) -> None:
    """The job's whole log as stream ``<job>/algo-1-<epoch>``, as SageMaker names it."""
    try:
        lines = log_tail_lines(log_file, MAX_PUBLISHED_LINES)
        stream = f"{name}/algo-1-{int(started.timestamp())}"
        publish_logs(engine, group, stream, lines, int(time.time() * 1000) - len(lines))
    except Exception:  # logs are best effort; the job's outcome stands
        log.exception("publishing logs of %s failed", name)


def sandbox_for(engine: Engine, kind: str, name: str) -> Path:
    sandbox = engine.data_dir / "jobs" / kind / name / "opt_ml"
    if sandbox.exists():
        shutil.rmtree(sandbox)
    sandbox.mkdir(parents=True)
    return sandbox


def launch(
    engine: Engine,
    kind: str,
    name: str,
    arn: str,
    record: dict[str, Any],
    *,
    tags: list[dict[str, str]],
    duplicate_message: str,
    run: Any,
) -> None:
    """Record a new job (its name unique, as on AWS), tag it, and queue ``run(control)``."""
    record.pop("Tags", None)
    engine.store.create(
        kind, name, record, duplicate_error=ValidationError, duplicate_message=duplicate_message
    )
    engine.tags.set(arn, tags)
    control = RunningProcess()
    engine.register_stopper(kind, name, control.stop)
    engine.executor.submit(run, control)


def request_stop(
    engine: Engine, kind: str, name: str, status_key: str, missing_message: str, **stopping: str
) -> None:
    """StopX*: only an InProgress job can be stopped; it shows Stopping until it ends."""
    record = engine.store.get(kind, name, missing_message=missing_message)
    if record[status_key] != "InProgress":
        raise ValidationError(
            f"The request was rejected because the job is in status {record[status_key]}."
        )
    engine.store.update(kind, name, lambda r: r.update({status_key: "Stopping", **stopping}))
    engine.stop_job(kind, name)
