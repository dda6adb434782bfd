"""Hosting a model for real: its artifacts on disk and model-server workers that score requests.

Endpoints and transform jobs share this. A model (its DescribeModel record) becomes a directory
with the extracted ``ModelDataUrl`` archive (and the ``SAGEMAKER_SUBMIT_DIRECTORY`` code bundle,
when the container names an inference script), served by worker processes running
``emulator/algorithms/model_server.py`` — one per instance, like one container per instance.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import environments
from emulator.algorithms import knn_builtin, model_server
from emulator.archives import UnsafeArchive, safe_extract
from emulator.sagemaker import images, jobs, models
from emulator.sagemaker.errors import ValidationError

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

# Loading a booster takes well under a second; a script's model_fn may import heavy modules.
READY_TIMEOUT_S = 120
# Local instances are processes: more than this per variant only competes for the same cores.
MAX_WORKERS_PER_VARIANT = 4
# How long a stopping worker waits for the request it is answering.
STOP_GRACE_S = 60


class HostingFailure(Exception):
    """The model cannot be served; the message is the endpoint's or job's FailureReason."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class ServedModel:
    """What a worker needs: the model directory and, in script mode, the script to run."""

    model_name: str
    model_dir: Path
    program: str | None
    code_dir: Path | None
    image: str = ""  # its environment (emulator/environments.py) runs the model server
    # The container's Environment (a transform job's laid over it): the worker's variables.
    environment: dict[str, str] = field(default_factory=dict)


def extract_archive(archive: Path, target: Path, what: str) -> None:
    # Our own checks, not tarfile's "data" filter (bypassable on 3.11.7, and no size cap).
    try:
        safe_extract(archive, target, what=what)
    except UnsafeArchive as exc:
        raise HostingFailure(str(exc)) from exc


def fetch_archive(engine: Engine, uri: str, target: Path, what: str) -> None:
    """Download ``uri`` (an object or a prefix) and unpack every tar.gz in it into ``target``."""
    download = target.parent / f"{target.name}-download"
    try:
        jobs.download_prefix(engine.client("s3"), uri, download)
    except jobs.JobFailure as exc:
        raise HostingFailure(f"{what} {uri}: {exc}") from exc
    archives = sorted(download.rglob("*.tar.gz"))
    if not archives:
        raise HostingFailure(f"{what} {uri} holds no .tar.gz archive")
    for archive in archives:
        extract_archive(archive, target, what)
    shutil.rmtree(download, ignore_errors=True)


def container_of(model: dict[str, Any]) -> dict[str, Any]:
    """The one container a model runs (a ``ModelPackageName`` resolved by CreateModel)."""
    containers = models.served_containers(model)
    if len(containers) > 1:
        raise HostingFailure(
            f"model {model['ModelName']}: serial inference pipelines ({len(containers)} "
            "containers) are not emulated"
        )
    return containers[0]


def prepare_model(engine: Engine, model_name: str, directory: Path) -> ServedModel:
    """Download and unpack what the model's container would see under /opt/ml/model."""
    model = engine.store.find("Model", model_name)
    if model is None:
        raise HostingFailure(f'Could not find model "{model_name}".')
    container = container_of(model)
    image = container.get("Image", "")
    if images.repository(image) not in (*images.SUPPORTED, *images.BUILTIN_ALGORITHMS):
        raise HostingFailure(
            f"image {image!r} is not emulated for hosting; supported: "
            + ", ".join((*images.SUPPORTED, *images.BUILTIN_ALGORITHMS))
        )
    if directory.exists():
        shutil.rmtree(directory)
    model_dir = directory / "model"
    model_dir.mkdir(parents=True)
    if container.get("ModelDataUrl"):
        fetch_archive(engine, container["ModelDataUrl"], model_dir, "ModelDataUrl")
    environment = container.get("Environment", {})
    program = environment.get("SAGEMAKER_PROGRAM") or None
    if images.repository(image) in images.BUILTIN_ALGORITHMS:
        program = None  # an algorithm's own container runs no inference script
    code_dir = None
    if program:
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code")
        if submit.startswith("s3://"):
            code_dir = directory / "code"
            fetch_archive(engine, submit, code_dir, "SAGEMAKER_SUBMIT_DIRECTORY")
        else:  # the inference toolkit's convention: code/ inside model.tar.gz
            try:
                relative = Path(submit).relative_to("/opt/ml/model").as_posix()
                # "/opt/ml/model/../.." would point the model server at any local directory.
                code_dir = jobs.confined(model_dir, relative)
            except (ValueError, ValidationError) as exc:
                raise HostingFailure(
                    f"SAGEMAKER_SUBMIT_DIRECTORY {submit!r} must be an s3:// URI or under "
                    "/opt/ml/model"
                ) from exc
    elif images.repository(image) not in ("sagemaker-xgboost", *images.BUILTIN_ALGORITHMS):
        raise HostingFailure(
            f"image {image!r} needs SAGEMAKER_PROGRAM (an inference script) to serve a model"
        )
    return ServedModel(model_name, model_dir, program, code_dir, image, dict(environment))


class ModelWorker:
    """One model-server process; requests to it are serialised, as one worker per instance."""

    _ids = itertools.count(1)

    def __init__(self, served: ServedModel, log_file: Path) -> None:
        self.served = served
        self.log_file = log_file
        self.lock = threading.Lock()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            runtime = environments.environment_for(served.image)
        except environments.EnvironmentFailure as exc:
            raise HostingFailure(f"model {served.model_name}: {exc}") from exc
        with log_file.open("a") as handle:
            handle.write(runtime.description() + "\n")
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        # A built-in algorithm the emulator plays has its own server; the rest, model_server.
        if images.repository(served.image) == "knn":
            server = [knn_builtin.__file__, "serve"]
        else:
            server = [model_server.__file__]
        command = [
            runtime.python,
            *server,
            "--model-dir",
            str(served.model_dir),
            "--request-fd",
            str(request_read),
            "--response-fd",
            str(response_write),
        ]
        if served.program:
            command += ["--program", served.program, "--code-dir", str(served.code_dir)]
            # What the code's requirements.txt installs, for this instance alone.
            overlay = served.model_dir.parent / "python-overlays" / log_file.stem
            command += ["--overlay", str(overlay)]
        # The container version decides details of its serving (LIBSVM indexes, say).
        command += ["--image-tag", environments.parse_image(served.image)[1]]
        if served.program:  # the image decides the default handlers of an inference script
            command += ["--image-repository", images.repository(served.image)]
        log_file.parent.mkdir(parents=True, exist_ok=True)
        root = str(Path(model_server.__file__).resolve().parents[2])
        environment = {
            **os.environ,
            **jobs.SHARED_CORES_ENVIRONMENT,
            **served.environment,
            "PYTHONUNBUFFERED": "1",
            # The image's own packages (sagemaker_xgboost_container) beside the model server.
            "PYTHONPATH": os.pathsep.join(
                [
                    root,
                    *images.container_pythonpath(images.repository(served.image)).values(),
                ]
            ),
        }
        try:
            # Under the jobs' init, forked by the spawner thread: the worker dies with its pool,
            # with the emulator (SIGKILL included), and takes anything it started along.
            with log_file.open("ab") as output:
                self.process = jobs.spawn(
                    command,
                    env=environment,
                    cwd=None,
                    stdout=output,
                    pass_fds=(request_read, response_write),
                )
        except BaseException:
            os.close(self._request_write)
            os.close(self._response_read)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)
        self.requests = os.fdopen(self._request_write, "wb")
        self.responses = os.fdopen(self._response_read, "rb")

    def wait_ready(self) -> None:
        """Block until the model loaded; a model that cannot load raises HostingFailure."""
        timer = threading.Timer(READY_TIMEOUT_S, self.stop)
        timer.start()
        try:
            answer = self._read_answer()
        finally:
            timer.cancel()
        if answer is None:
            raise HostingFailure(
                f"model {self.served.model_name}: the model server exited while loading the "
                f"model. Last lines of its log:\n{jobs.tail(self.log_file)}"
            )
        if answer.status != 200:
            raise HostingFailure(
                f"model {self.served.model_name} failed to load: "
                + answer.body.decode(errors="replace")
            )

    def invoke(self, body: bytes, content_type: str, accept: str) -> Answer:
        with self.lock:
            return self.exchange(body, content_type, accept)

    def exchange(self, body: bytes, content_type: str, accept: str) -> Answer:
        """One request and its answer; the caller holds ``lock``."""
        header = {"content_type": content_type, "accept": accept, "length": len(body)}
        try:
            self.requests.write(json.dumps(header).encode() + b"\n" + body)
            self.requests.flush()
            answer = self._read_answer()
        except (BrokenPipeError, ValueError):
            answer = None
        if answer is None:
            return Answer(500, "text/plain", b"The model server process exited unexpectedly")
        return answer

    def _read_answer(self) -> Answer | None:
        line = self.responses.readline()
        if not line:
            return None
        header = json.loads(line)
        return Answer(
            header["status"], header["content_type"], self.responses.read(header["length"])
        )

    def stop(self) -> None:
        """Let the request in flight finish, close the request pipe (the server exits), and
        make sure the process is gone."""
        held = self.lock.acquire(timeout=STOP_GRACE_S)
        try:
            with contextlib.suppress(OSError):
                self.requests.close()
            # Killed (with what it started) if it has not exited 5 s after its pipe closed.
            self.process.end(grace=5)
            with contextlib.suppress(OSError):
                self.responses.close()
        finally:
            if held:
                self.lock.release()


class WorkerPool:
    """The workers of one production variant (or one transform job): round-robin over them."""

    def __init__(self, workers: list[ModelWorker]) -> None:
        self.workers = workers
        self._next = itertools.cycle(range(len(workers)))
        self._lock = threading.Lock()

    @classmethod
    def start(cls, served: ServedModel, count: int, log_dir: Path) -> WorkerPool:
        count = max(1, min(count, MAX_WORKERS_PER_VARIANT))
        workers = [ModelWorker(served, log_dir / f"instance-{i + 1}.log") for i in range(count)]
        pool = cls(workers)
        try:
            for worker in workers:
                worker.wait_ready()
        except BaseException:
            pool.stop()
            raise
        return pool

    def invoke(self, body: bytes, content_type: str, accept: str) -> Answer:
        # A free worker first; otherwise queue on the next one in turn.
        for worker in self.workers:
            if worker.lock.acquire(blocking=False):
                try:
                    return worker.exchange(body, content_type, accept)
                finally:
                    worker.lock.release()
        with self._lock:
            worker = self.workers[next(self._next)]
        return worker.invoke(body, content_type, accept)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
