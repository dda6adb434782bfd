"""What processing and training jobs share: the sandbox, S3 copies, the process, the logs.

A job's sandbox is a directory that plays the container's ``/opt/ml``. Two ways to show it:

- ``namespace``: the job runs in a private mount namespace (``unshare --mount``, mapping the
  caller to root in a user namespace when not root) where the sandbox is bind-mounted on
  ``/opt/ml``, so unmodified scripts that hard-code ``/opt/ml/...`` work;
- ``rewrite``: where the OS refuses namespaces, ``/opt/ml`` in the entrypoint, arguments and
  environment is rewritten to the sandbox path. The job log says which mode ran.

``EMULATOR_SANDBOX_MODE=rewrite|namespace`` forces one (tests cover both).

No job process outlives its job or the emulator. Every job (and every model-server worker, see
hosting.py) runs under a small init of ours (``INIT_SOURCE``), which starts the command in its
own process group, forwards SIGTERM/SIGINT to that group, reaps whatever is left to it and exits
with the command's exit code (128 + signal when a signal killed it). When the command ends,
everything it left running is killed, as a container's processes die with its entrypoint.

- namespace mode: ``unshare --pid --fork --kill-child`` (plus ``--mount-proc`` where the machine
  allows it) makes the init pid 1 of a PID namespace: when it ends, the kernel kills every
  process in the namespace, ``setsid`` daemons included. The ``unshare`` process the emulator
  starts has ``PR_SET_PDEATHSIG`` = SIGKILL (``setpriv --pdeathsig``, else a ``preexec_fn``), so
  the emulator's death, SIGKILL included, kills unshare, ``--kill-child`` kills the init, and the
  kernel the rest. (A machine that allows a mount namespace but no PID namespace gets the
  rewrite-mode init below, inside the mount namespace.)
- rewrite mode (no namespaces): the init is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so
  descendants that ``setsid`` and double-fork still come back to it, and it kills them all when
  the command ends, when told to (SIGHUP) or when the emulator dies (its ``PR_SET_PDEATHSIG`` is
  SIGHUP, caught). The command itself gets SIGKILL as its parent-death signal. Each job's
  processes also carry ``EMULATOR_JOB_TOKEN=<uuid>`` in their environment, and after every job
  the emulator kills what still carries it (its own uid only); the emulator is a child
  subreaper too, so orphans of a killed init come back to it and are reaped.

StopX* (and MaxRuntimeInSeconds) sends SIGTERM to the command's group (through the init), then
after ``STOP_GRACE_S`` has the init kill everything (SIGHUP), then SIGKILLs the init if it is
still there ``KILL_GRACE_S`` later. Processes are forked from one thread that lives as long as
the emulator: ``PR_SET_PDEATHSIG`` fires when the forking *thread* ends, and hosting starts
workers from short-lived threads.

Limits, rewrite mode only (namespace mode has none of them): the init is the safety net. If
something else SIGKILLs it (the OOM killer, ``kill -9``), its descendants are orphaned; the
emulator then kills those still carrying the token, so a descendant that has both left the
job's process group and scrubbed ``EMULATOR_JOB_TOKEN`` from its environment survives, and if
the emulator is SIGKILLed as well nothing sweeps at all. Orphans adopted by the emulator that
exit on their own stay zombies until the emulator exits.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import logging
import os
import posixpath
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.s3.transfer import TransferConfig

from emulator import environments, linux
from emulator.sagemaker.errors import SageMakerError, ValidationError
from emulator.sagemaker.lifecycle import Resource, now

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


# A PID namespace whose pid 1 is the init; --kill-child: the init dies with unshare.
PID_NAMESPACE = ("--pid", "--fork", "--kill-child")
# Preferred first: a private /proc (the job sees only its own processes), then without it,
# then a mount namespace alone (the init then works as in rewrite mode, as a subreaper).
NAMESPACE_OPTIONS = ((*PID_NAMESPACE, "--mount-proc"), PID_NAMESPACE, ())


_PROBE_LOCK = threading.Lock()
_probed: list[tuple[str, ...] | None] = []


def namespace_options() -> tuple[str, ...] | None:
    """The unshare options this machine accepts for a job, or None: no namespaces at all.

    Probed once per process, under a lock: jobs start on several threads at once, and a probe
    that raced another one (or was starved on a busy machine) must not decide, for the rest of
    the process, that scripts write to the host's /opt/ml.
    """
    with _PROBE_LOCK:
        if not _probed:
            _probed.append(probe_namespace_options())
            if _probed[0] is None:
                log.warning("no mount namespaces here: jobs run with /opt/ml rewritten")
        return _probed[0]


def probe_namespace_options() -> tuple[str, ...] | None:
    if shutil.which("unshare") is None:
        return None
    try:
        Path(CONTAINER_ROOT).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    probe = Path(tempfile.mkdtemp(prefix="emulator-ns-probe-"))
    (probe / "marker").write_text("ok")
    try:
        for options in NAMESPACE_OPTIONS:
            try:
                result = subprocess.run(
                    [*namespace_prefix(probe, options), "cat", f"{CONTAINER_ROOT}/marker"],
                    capture_output=True,
                    timeout=60,  # generous: a loaded machine is slow, not namespace-less
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            if result.returncode == 0 and result.stdout == b"ok":
                return options
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def namespace_mode_available() -> bool:
    """Can this machine bind-mount a sandbox on /opt/ml in a private mount namespace?"""
    return namespace_options() is not None


def namespace_prefix(sandbox: Path, options: Sequence[str] | None = None) -> list[str]:
    """Command prefix: new mount (and PID) namespace, sandbox bound on /opt/ml, then exec."""
    if options is None:
        options = namespace_options() or ()
    user_ns = [] if os.geteuid() == 0 else ["--map-root-user"]
    # "$0" is the sandbox and "$@" the command (the init and the job's command): arguments,
    # never interpolated text.
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        *options,
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


def confined(root: Path, *parts: str) -> Path:
    """``root/parts...`` resolved, refusing any part that could lead out of ``root``.

    For paths built from request values (job, endpoint, variant and channel names). The
    service model's patterns already keep ``/`` out of names, but ChannelName's lets ``..``
    through, and a directory we delete or write must never depend on one check alone.
    """
    for part in parts:
        if not part or "\0" in part or posixpath.isabs(part) or ".." in part.split("/"):
            raise ValidationError(
                f"{part!r} is not a safe path component (empty, absolute, '..' or NUL)"
            )
    base = root.resolve()
    target = base.joinpath(*parts).resolve()  # a symlink on the way counts where it points
    if target != base and base not in target.parents:
        raise ValidationError(f"{'/'.join(parts)!r} resolves outside its directory")
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
                s3.download_file(bucket, key, str(target), Config=SELF_TRANSFER)
                count += 1
    except s3.exceptions.NoSuchBucket as exc:
        raise JobFailure(f"ClientError: bucket {bucket!r} of {uri} does not exist") from exc
    if count == 0:
        raise JobFailure(f"ClientError: no objects under {uri}")
    return count


# The emulator uploads job outputs to itself: both ends of every transfer live in this process,
# so each part in flight counts twice. Two 8 MB parts at a time keep a 500 MB output's upload
# within a few tens of MB (boto3's default, ten at once, took the emulator past 400 MB).
SELF_TRANSFER = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=2)


def upload_dir(s3: Any, source: Path, uri: str) -> int:
    bucket, prefix = split_s3_uri(uri)
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = posixpath.join(prefix.rstrip("/"), path.relative_to(source).as_posix())
        s3.upload_file(str(path), bucket, key, Config=SELF_TRANSFER)
        count += 1
    return count


# --- processes that end with their job and with the emulator ---------------------------------
# How long a stopped job has between SIGTERM and being killed (SageMaker gives containers 30 s;
# local jobs are small and a StopX* should not keep the emulator busy).
STOP_GRACE_S = 5.0
# How long the init has to kill what it supervises before it is SIGKILLed itself.
KILL_GRACE_S = 2.0
TOKEN_VARIABLE = "EMULATOR_JOB_TOKEN"

# The init every job and model-server worker runs under: ``python -I -S -c INIT_SOURCE
# <emulator pid> <command...>`` (no site, no emulator import: it starts in ~15 ms). Pid 1 of the
# job's PID namespace, or a child subreaper of the emulator. Why not the shell: pid 1 ignores
# every signal it has no handler for, a shell's background job ignores SIGINT, and a shell
# neither reaps orphans nor kills what they leave running.
INIT_SOURCE = r"""
import ctypes, os, signal, sys

libc = ctypes.CDLL(None, use_errno=True)
pid_one = os.getpid() == 1
parent, command = int(sys.argv[1]), sys.argv[2:]
job = 0
FORWARDED = (signal.SIGTERM, signal.SIGINT)
HANDLED = (*FORWARDED, signal.SIGHUP)


def children():
    me = os.getpid()
    try:
        with open(f"/proc/self/task/{me}/children") as handle:
            return [int(pid) for pid in handle.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: read every ppid
        found = []
        for name in os.listdir("/proc"):
            try:
                with open(f"/proc/{name}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == me:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
        return found


def kill_all():
    # Pid 1 only has to leave: the kernel kills the rest of its namespace.
    if pid_one:
        return
    if job:
        try:
            os.killpg(job, signal.SIGKILL)
        except OSError:
            pass
    # A subreaper: whatever loses its parent comes back here, so repeat until nothing is left.
    while True:
        kids = children()
        if not kids:
            return
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        for kid in kids:
            try:
                os.waitpid(kid, 0)
            except ChildProcessError:
                pass


def forward(signum, frame):
    try:
        os.killpg(job, signum)
    except OSError:
        pass


def kill_and_leave(signum, frame):
    # SIGHUP: the emulator died (parent-death signal) or wants everything gone now.
    kill_all()
    os._exit(128 + signal.SIGKILL)


# Blocked until the job's process group exists, so no signal falls between two chairs.
signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
for signum in FORWARDED:
    signal.signal(signum, forward)
signal.signal(signal.SIGHUP, kill_and_leave)
if not pid_one:
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    libc.prctl(1, signal.SIGHUP, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the emulator died before the line above
        os._exit(128 + signal.SIGKILL)
init = os.getpid()
pid = os.fork()
if pid == 0:
    try:
        os.setpgid(0, 0)
        for signum in (*HANDLED, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_DFL)  # Python ignores SIGPIPE and SIGXFSZ
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: dies with the init
        if os.getppid() != init:
            os._exit(128 + signal.SIGKILL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
        os.execvp(command[0], command)
    except BaseException as exc:
        os.write(2, f"[emulator] cannot run {command[0]!r}: {exc}\n".encode())
    os._exit(127)
job = pid
try:
    os.setpgid(pid, pid)
except OSError:
    pass
# The worker's pipes (pass_fds) are the worker's: an end held here would hide its exit.
os.closerange(3, os.sysconf("SC_OPEN_MAX"))
signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
code = 128 + signal.SIGKILL
while True:
    try:
        pid, status = os.waitpid(-1, 0)  # reaps adopted orphans too
    except ChildProcessError:
        break
    if pid == job:
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        break
kill_all()
os._exit(code)
"""


def init_command(command: Sequence[str]) -> list[str]:
    """``command`` under the init (see INIT_SOURCE)."""
    return [sys.executable, "-I", "-S", "-c", INIT_SOURCE, str(os.getpid()), *command]


@functools.cache
def become_subreaper() -> None:
    """Orphans of a killed init come back to the emulator, which reaps what it kills."""
    if sys.platform.startswith("linux"):
        linux.become_subreaper()


@functools.cache
def pdeathsig_prefix() -> tuple[str, ...] | None:
    """``setpriv --pdeathsig KILL``, where util-linux has it; None: fall back to preexec_fn."""
    if shutil.which("setpriv") is None:
        return None
    try:
        probe = subprocess.run(
            ["setpriv", "--pdeathsig", "KILL", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ("setpriv", "--pdeathsig", "KILL") if probe.returncode == 0 else None


def _die_with_parent() -> None:
    """preexec_fn fallback when setpriv is missing (runs in the forked child, before exec)."""
    linux.die_with_parent(signal.SIGKILL)


class Spawner:
    """Forks every job and worker process from one thread that lives as long as the emulator.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked the process ends, not the process:
    a model-server worker forked by the short-lived thread that deploys an endpoint would be
    killed as soon as that thread finished.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[Future[Any], tuple[Any, ...], dict[str, Any]]]
        self._requests = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="emulator-spawner", daemon=True
                )
                self._thread.start()
        if threading.current_thread() is self._thread:
            return subprocess.Popen(*args, **kwargs)
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((future, args, kwargs))
        return future.result()

    def _serve(self) -> None:
        while True:
            future, args, kwargs = self._requests.get()
            try:
                future.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # the caller gets it, the thread goes on
                future.set_exception(exc)


SPAWNER = Spawner()


def marked_processes(token: str) -> list[int]:
    """Live processes of our uid whose environment holds ``EMULATOR_JOB_TOKEN=<token>``."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    own, uid = os.getpid(), os.getuid()
    found = []
    with contextlib.suppress(OSError), os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) == own:
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                with open(f"/proc/{entry.name}/environ", "rb") as handle:
                    environ = handle.read()
            except OSError:  # gone, or not ours to read
                continue
            if needle in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def kill_marked(
    token: str, *, popen_pids: Iterable[int] = (), timeout: float = KILL_GRACE_S
) -> None:
    """SIGKILL what still carries ``token`` and reap those that were orphaned to us.

    ``popen_pids`` are killed but not reaped: their Popen must see their exit status (a Popen
    whose child someone else reaped reports exit code 0).
    """
    owned = set(popen_pids)
    deadline = time.monotonic() + timeout
    pending: set[int] = set()
    while time.monotonic() < deadline:
        victims = marked_processes(token)
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        pending.update(pid for pid in victims if pid not in owned)
        for pid in list(pending):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    pending.discard(pid)
            except ChildProcessError:  # not our child: its own parent reaps it
                pending.discard(pid)
        if not victims and not pending:
            return
        time.sleep(0.01)


class JobProcess:
    """A command running under the init, with every process it starts."""

    def __init__(self, popen: subprocess.Popen[bytes], token: str) -> None:
        self.popen = popen
        self.token = token

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def signal(self, signum: int) -> None:
        """Signal the process group we started (the init, and unshare in namespace mode)."""
        if self.popen.poll() is None:  # never a group whose leader was reaped
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

    def terminate(self) -> None:
        """SIGTERM for the command's process group (the init forwards it)."""
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """Everything goes now: the init kills what it supervises (SIGHUP), then is killed."""
        self.signal(signal.SIGHUP)
        try:
            self.popen.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait()
        self.sweep()

    def sweep(self) -> None:
        """Kill what is left carrying the job's token (rewrite mode's last resort)."""
        kill_marked(self.token, popen_pids=[self.popen.pid])

    def end(self, grace: float) -> None:
        """Give it ``grace`` seconds to exit by itself, then kill it; either way, sweep."""
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self.sweep()


def spawn(
    command: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | None,
    stdout: Any,
    namespace_sandbox: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> JobProcess:
    """Start ``command`` under the init, in a new session, tied to the emulator's life.

    With ``namespace_sandbox`` it runs in the mount (and PID) namespace with that sandbox on
    /opt/ml; without, directly under the init (rewrite mode, model-server workers).
    """
    become_subreaper()
    token = uuid.uuid4().hex
    full = init_command(command)
    preexec = None
    if namespace_sandbox is not None:
        full = namespace_prefix(namespace_sandbox) + full
        # unshare is the emulator's child here: it must die with the emulator (the init, pid 1,
        # dies with unshare through --kill-child; without --fork the init is the child itself).
        prefix = pdeathsig_prefix()
        if prefix is not None:
            full = [*prefix, *full]
        else:
            preexec = _die_with_parent
    popen = SPAWNER.popen(
        full,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env={**env, TOKEN_VARIABLE: token},
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        start_new_session=True,  # its own group: signals reach the init (and unshare)
        preexec_fn=preexec,
    )
    return JobProcess(popen, token)


@dataclass
class RunningProcess:
    """Stops a job: stop() asks (SIGTERM through the init); run_process escalates."""

    stopped: threading.Event = field(default_factory=threading.Event)
    process: JobProcess | None = None

    def stop(self) -> None:
        """Returns at once: the job's thread kills it if SIGTERM is not enough in time."""
        self.stopped.set()
        process = self.process
        if process is not None:
            process.terminate()


def python_for(command: list[str], interpreter: str = sys.executable) -> list[str]:
    """Framework images' ``python``/``python3`` is ``interpreter``: the image's environment's
    (see emulator/environments.py)."""
    if command and re.fullmatch(r"python(3(\.\d+)?)?", posixpath.basename(command[0])):
        return [interpreter, *command[1:]]
    return command


def job_environment(image: str, log_file: Path) -> environments.Environment:
    """The image's environment (built on first use), named in the job log's first lines."""
    try:
        environment = environments.environment_for(image)
    except environments.EnvironmentFailure as exc:
        with log_file.open("a") as handle:
            handle.write(f"[emulator] environment: {exc}\n")
        raise JobFailure(str(exc)) from exc
    with log_file.open("a") as handle:
        handle.write(environment.description() + "\n")
    return environment


def rewrite(value: str, sandbox: Path) -> str:
    return value.replace(CONTAINER_ROOT, str(sandbox))


# Jobs and model servers here share the machine's cores; on SageMaker each has an instance of
# its own. libgomp's threads (xgboost's) spin while they wait for work, which on shared cores
# burns the time the other jobs need: two script-mode training jobs side by side took 13 s of CPU
# each with spinning threads, 4 s with sleeping ones (one job alone: 4 s either way). A job's
# or a model's own Environment may still choose another policy.
SHARED_CORES_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


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
        **SHARED_CORES_ENVIRONMENT,
        **environment,
    }
    if mode != "namespace":
        command = [rewrite(part, sandbox) for part in command]
        env = {key: rewrite(value, sandbox) for key, value in env.items()}
    if control.stopped.is_set():  # stopped while downloading its inputs
        raise JobStopped("Stopped by request")
    with log_file.open("ab") as output:
        process = spawn(
            command,
            env=env,
            cwd=sandbox,
            stdout=output,
            namespace_sandbox=sandbox if mode == "namespace" else None,
        )
    control.process = process
    deadline = time.monotonic() + max_runtime if max_runtime else None
    stopping: str | None = None
    kill_at = 0.0
    try:
        while True:
            try:
                code = process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            if stopping is None:
                if control.stopped.is_set():
                    stopping = "Stopped by request"
                elif deadline is not None and time.monotonic() > deadline:
                    stopping = f"MaxRuntimeInSeconds ({max_runtime:g} s) exceeded"
                if stopping is not None:
                    process.terminate()  # again, if stop() did: harmless, and never missed
                    kill_at = time.monotonic() + STOP_GRACE_S
            elif time.monotonic() > kill_at:
                process.kill()
    finally:
        # Whatever the command left running (or everything, if we got here by an exception).
        if process.poll() is None:
            process.kill()
        process.sweep()
    if stopping is not None or control.stopped.is_set():
        raise JobStopped(stopping or "Stopped by request")
    return code


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


# --- what else follows a job's life ----------------------------------------------------------
# Called as observer(engine, kind, name, event) when a job is "created" and when it has "ended"
# (lineage.py records trial components, artifacts and associations this way); an observer that
# fails is logged and never changes the job's outcome.
JOB_OBSERVERS: list[Callable[[Engine, str, str, str], None]] = []


def notify_observers(engine: Engine, kind: str, name: str, event: str) -> None:
    for observer in JOB_OBSERVERS:
        try:
            observer(engine, kind, name, event)
        except Exception:
            log.exception("an observer of %s %s (%s) failed", kind, name, event)


# --- one run of a job, from the pool's thread picking it up to its final status ---------------
# What CreateProcessingJob and CreateTransformJob answer for a name already taken.
DUPLICATE_JOB = (
    "Job name must be unique within an AWS account and region, and a job with this name "
    "already exists ({arn})"
)


@dataclass(frozen=True)
class JobKind(Resource):
    """A kind of job: a resource (lifecycle.py) that runs; its status member is
    ``<kind>Status``. What creating (``launch``), stopping (``request_stop``) and running it
    (``job_run``) needs to know."""

    duplicate: str | None = DUPLICATE_JOB
    duplicate_error: type[SageMakerError] = ValidationError
    log_group: str = ""  # "/aws/sagemaker/ProcessingJobs"
    # The kind's own final fields, applied to the record after status and end time are set.
    on_end: Callable[[dict[str, Any], JobRun], None] | None = None
    # What the kind's List* summary holds besides every job's name, ARN, status and times.
    more_summary_keys: tuple[str, ...] = ()
    start_key: str = ""  # default: "ProcessingStartTime" for a ProcessingJob
    end_key: str = ""  # "ProcessingEndTime"

    def __post_init__(self) -> None:
        super().__post_init__()
        status_key = self.status_key or f"{self.kind}Status"
        noun = self.kind.removesuffix("Job")
        object.__setattr__(self, "start_key", self.start_key or f"{noun}StartTime")
        object.__setattr__(self, "end_key", self.end_key or f"{noun}EndTime")
        summary_keys = (
            self.name_key,
            self.arn_key,
            "CreationTime",
            self.end_key,
            "LastModifiedTime",
            status_key,
            *self.more_summary_keys,
        )
        object.__setattr__(self, "status_key", status_key)  # frozen: set once, here
        object.__setattr__(self, "summary_keys", summary_keys)


@dataclass
class JobRun:
    """A job being run; the runner sets ``log_file`` and adds to ``fields`` as it goes."""

    name: str
    started: dt.datetime
    log_file: Path | None = None
    status: str = "Completed"
    fields: dict[str, Any] = field(default_factory=dict)
    ended: dt.datetime | None = None

    def end_as(self, status: str, reason: str) -> None:
        self.status = status
        self.fields["FailureReason"] = reason[:FAILURE_REASON_LIMIT]


def emulator_fault(what: str, exc: BaseException) -> str:
    """The FailureReason of a run that failed by the emulator's own fault (a job, a tuning job,
    an endpoint's deployment), logged with its traceback: the emulator keeps serving."""
    log.exception("%s crashed", what)
    return f"InternalServerError: emulator error: {exc}"


@contextlib.contextmanager
def job_run(engine: Engine, kind: JobKind, name: str, control: RunningProcess) -> Iterator[JobRun]:
    """Everything a runner does happens in here, so that every run ends in a final status.

    JobFailure ends the job Failed with its message, JobStopped ends it Stopped, and anything
    else (the emulator's own fault) Failed with ``InternalServerError: emulator error: ...`` and
    a traceback in the emulator's log. Whatever happened, the stopper is unregistered, the log
    published and the status, end time and the kind's fields written: no job stays InProgress
    or Stopping.
    """
    run = JobRun(name, now())
    try:
        engine.store.update(
            kind.kind,
            name,
            lambda r: r.update({kind.start_key: run.started, "LastModifiedTime": run.started}),
        )
        if control.stopped.is_set():  # stopped while waiting for a free slot in the pool
            raise JobStopped("Stopped by request")
        yield run
    except JobStopped as stop:
        run.end_as("Stopped", str(stop))
    except JobFailure as failure:
        run.end_as("Failed", str(failure))
    except BaseException as exc:
        run.end_as("Failed", emulator_fault(f"{kind.kind} {name}", exc))
        if not isinstance(exc, Exception):
            raise
    finally:
        end_run(engine, kind, run)


def end_run(engine: Engine, kind: JobKind, run: JobRun) -> None:
    """Unregister, publish, record: each step guarded, so the status is always written."""
    engine.unregister_stopper(kind.kind, run.name)
    if run.log_file is not None and run.log_file.exists():
        publish_job_log(engine, kind.log_group, run.name, run.log_file, run.started)
    run.ended = ended = now()

    def change(record: dict[str, Any]) -> None:
        record.update(run.fields)
        record[kind.status_key] = run.status
        record[kind.end_key] = record["LastModifiedTime"] = ended
        if kind.on_end is not None:
            kind.on_end(record, run)

    try:
        engine.store.update(kind.kind, run.name, change)
    except Exception:
        log.exception("recording the end of %s %s failed", kind.kind, run.name)

        def bare(record: dict[str, Any]) -> None:  # without the kind's own fields
            record[kind.status_key] = run.status
            record[kind.end_key] = record["LastModifiedTime"] = ended
            if "FailureReason" in run.fields:
                record["FailureReason"] = run.fields["FailureReason"]

        try:
            engine.store.update(kind.kind, run.name, bare)
        except Exception:
            log.exception("%s %s: its final status could not be written", kind.kind, run.name)
    notify_observers(engine, kind.kind, run.name, "ended")


# --- why a job failed, as a person needs to read it -------------------------------------------
# SageMaker's FailureReason holds at most 1024 characters.
FAILURE_REASON_LIMIT = 1024
# SageMaker keeps the first 1 KB of a container's report files (ExitMessage, FailureReason).
REPORT_LIMIT = 1024
# Where a container writes its own account of a failure (under /opt/ml/output), in the order each
# kind reads them. Training: the failure file, SageMaker's FailureReason contract. Processing:
# SageMaker documents only the message file (ExitMessage, written on failure too); the failure
# file is read after it for scripts written for training jobs.
TRAINING_REPORTS = ("failure",)
PROCESSING_REPORTS = ("message", "failure")
# Error classes callers classify failures by; a failure file may name its own (the built-in
# algorithms write ``ClientError: ...`` for the user's faults).
FAILURE_CLASSES = ("ClientError:", "AlgorithmError:")
# How far back in the log to look for the error line: a failing job ends with its error, and a
# job that flooded its output must not be read whole.
ERROR_SCAN_LINES = 500
TRACEBACK_START = "Traceback (most recent call last):"


def read_report(sandbox: Path, name: str) -> str | None:
    """The first 1 KB of ``/opt/ml/output/<name>`` as text, or None when absent or blank."""
    try:
        with (sandbox / "output" / name).open("rb") as handle:
            data = handle.read(REPORT_LIMIT)
    except OSError:
        return None
    # A cut in the middle of a UTF-8 sequence drops that character, never the message.
    text = data.decode("utf-8", errors="ignore")
    return text if text.strip() else None


def last_lines(log_file: Path, count: int) -> list[str]:
    """The last ``count`` non-blank lines of the log, read without loading all of it."""
    kept: deque[str] = deque(maxlen=count)
    with contextlib.suppress(OSError), log_file.open(errors="replace") as handle:
        for line in handle:
            if line.strip():
                kept.append(line.rstrip("\n"))
    return list(kept)


def error_line(lines: Sequence[str]) -> str | None:
    """The last line that reads as an error: a traceback's ``SomeError: message`` or ``error:``.

    A traceback's exception line is the first unindented line after ``Traceback (most recent
    call last):`` (its frames are indented); a chained traceback comes later, so the last wins.
    """
    found: str | None = None
    in_traceback = False
    for line in lines:
        if line.startswith(TRACEBACK_START):
            in_traceback = True
        elif in_traceback and not line[:1].isspace():
            in_traceback = False
            found = line.strip()
        elif "error:" in line.lower():
            found = line.strip()
    return found


def fit_tail(lines: Sequence[str], room: int) -> list[str]:
    """As many of the last lines as fit in ``room`` characters (newlines included)."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        if used + len(line) + 1 > room:
            if not kept and room > 40:  # one huge last line: its end says the most
                kept.append("..." + line[-(room - 4) :])
            break
        kept.append(line)
        used += len(line) + 1
    return kept[::-1]


def exit_failure(
    sandbox: Path, log_file: Path, code: int, reports: Sequence[str] = TRAINING_REPORTS
) -> JobFailure:
    """The FailureReason for a non-zero exit: the container's own error first, then the log.

    ``<class>: <error>; exit code N. Last lines of output:`` and the log's tail, within
    SageMaker's 1024 characters. The error is the first report file in ``reports`` (under
    /opt/ml/output) that has text, else the log's last error line (see ``error_line``). The
    class is ``AlgorithmError`` (SageMaker's for a container that exits non-zero), or the one a
    failure file names (the built-in algorithms write ``ClientError: ...`` for the user's input
    faults); callers classify failures by it. Where AWS would say "See job logs for more
    information", the emulator puts what the logs would have shown first. The error is never cut
    for the tail; only an error longer than the whole limit is.
    """
    tail_lines = last_lines(log_file, ERROR_SCAN_LINES)
    error, source = None, None
    for name in reports:
        text = read_report(sandbox, name)
        if text is not None:
            error, source = text.strip(), name
            break
    if error is None:
        error = error_line(tail_lines)
    if error is None:
        lead = f"AlgorithmError: exit code {code}"
    elif error.startswith("AlgorithmError:") or (
        source == "failure" and error.startswith(FAILURE_CLASSES)
    ):
        # Only the failure file names its own class: the built-in algorithms' contract. A
        # message file or a log line saying "ClientError:" is still the container failing.
        lead = f"{error}; exit code {code}"
    else:
        lead = f"AlgorithmError: {error}; exit code {code}"
    if len(lead) > FAILURE_REASON_LIMIT:
        return JobFailure(lead[: FAILURE_REASON_LIMIT - 3] + "...")
    header = ". Last lines of output:\n"
    room = FAILURE_REASON_LIMIT - len(lead) - len(header)
    shown = fit_tail(tail_lines[-STDERR_TAIL_LINES:], room) if room > 0 else []
    if not shown:
        return JobFailure(lead)
    return JobFailure(lead + header + "\n".join(shown))


def sandbox_for(engine: Engine, kind: str, name: str) -> Path:
    # The sandbox is deleted and recreated: its path must stay inside the data dir.
    sandbox = engine.local_path("jobs", kind, name, "opt_ml")
    if sandbox.exists():
        shutil.rmtree(sandbox)
    sandbox.mkdir(parents=True)
    return sandbox


def launch(
    engine: Engine,
    job: JobKind,
    params: dict[str, Any],
    run: Callable[[RunningProcess], None],
    *,
    created: dt.datetime | None = None,
    **members: Any,
) -> dict[str, str]:
    """CreateX*: record the job InProgress (its name unique, as on AWS) from the request and
    ``members``, tag it, and queue ``run(control)``; answers the job's ARN."""
    name = params[job.name_key]
    arn = job.arn(engine, name)
    members = {**copy.deepcopy(params), job.status_key: "InProgress", **members}
    job.create(engine, job.new(arn, members, created), params.get("Tags", []))
    notify_observers(engine, job.kind, name, "created")
    control = RunningProcess()
    engine.register_stopper(job.kind, name, control.stop)
    engine.executor.submit(run, control)
    return {job.arn_key: arn}


def request_stop(engine: Engine, job: JobKind, name: str, **stopping: str) -> None:
    """StopX*: only an InProgress job can be stopped; it shows Stopping until it ends."""
    # Check and change under one lock: a job ending in between must not be left Stopping.
    with engine.store.lock:
        record = job.get(engine, name)
        status = record[job.status_key]
        if status != "InProgress":
            raise ValidationError(
                f"The request was rejected because the job is in status {status}."
            )
        record.update({job.status_key: "Stopping", **stopping})
    engine.stop_job(job.kind, name)
