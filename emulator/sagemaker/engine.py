"""The engine: shared state and services for the SageMaker resource modules."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from emulator.data_dir import DataDirLock
from emulator.sagemaker import jobs, protocol
from emulator.sagemaker.errors import SageMakerError, UnknownOperation, ValidationError
from emulator.sagemaker.registry import ACTIONS
from emulator.sagemaker.store import Store, TagStore

log = logging.getLogger("emulator.engine")

# moto's default account; the emulator answers STS GetCallerIdentity with it too, so ARNs agree.
ACCOUNT_ID = "123456789012"


class Engine:
    """Holds the resource store, the bounded job pool and AWS clients back to this endpoint.

    Resource modules (emulator/sagemaker/<resource>.py) register their handlers with
    ``@action``; ``handle`` validates a request and dispatches it.
    """

    def __init__(self, data_dir: Path, *, region: str = "us-east-1", max_jobs: int = 2) -> None:
        # Absolute once, here: jobs run with their sandbox as working directory, where a
        # relative data dir would name another place.
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_lock = DataDirLock(self.data_dir)  # a second emulator here refuses to start
        self.region = region
        self.account_id = ACCOUNT_ID
        self.store = Store(self.data_dir / "sagemaker.sqlite3")
        self.max_jobs = max_jobs
        # Jobs beyond max_jobs wait their turn in the pool's queue while reported InProgress.
        self.executor = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="sm-job")
        self.shutting_down = threading.Event()
        self.endpoint_url: str | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._stoppers: dict[tuple[str, str], Any] = {}
        self.tags = TagStore(self.store)
        # What is being served right now, by endpoint name (endpoints.py owns the entries).
        self.deployments: dict[str, Any] = {}
        # Importing the resource modules registers their actions.
        from emulator.sagemaker import load_resources

        load_resources()

    # --- requests ---------------------------------------------------------------------------
    def handle(self, action: str, body: bytes) -> dict[str, Any]:
        params = protocol.parse_request(action, body)  # unknown to AWS: UnknownOperation
        handler = ACTIONS.get(action)
        if handler is None:
            raise UnknownOperation(f"The emulator does not implement SageMaker {action}.")
        try:
            return handler(self, params) or {}
        except SageMakerError:
            raise
        except Exception:
            log.exception("SageMaker %s failed", action)
            raise
        finally:
            # Whatever the handler changed is on disk before the client hears back.
            self.store.flush_thread()

    def serve(self, endpoint_url: str) -> None:
        """The server listens at ``endpoint_url``: settle what a previous run left under way."""
        from emulator.sagemaker import recovery

        self.endpoint_url = endpoint_url
        self.data_lock.record(url=endpoint_url)
        recovery.recover(self)

    # --- helpers for resource modules -------------------------------------------------------
    def local_path(self, *parts: str) -> Path:
        """``data_dir/parts...`` for a path named by the request (a job or endpoint name).

        Raises ValidationError for a part that is empty, absolute, holds NUL or ``..``, or for
        a result not strictly inside the data dir: whatever slipped past the request's
        validation, nothing outside it is ever written or deleted.
        """
        path = jobs.confined(self.data_dir, *parts)
        if path == self.data_dir:
            raise ValidationError(f"{'/'.join(parts)!r} names the data directory itself")
        return path

    def arn(self, resource: str, name: str) -> str:
        """``arn:aws:sagemaker:<region>:<account>:<resource>/<name>``, e.g. training-job."""
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}/{name.lower()}"

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` pointed back at this emulator (moto serves it)."""
        with self._clients_lock:
            if service not in self._clients:
                if self.endpoint_url is None:
                    raise RuntimeError("engine has no endpoint_url yet")
                self._clients[service] = boto3.session.Session().client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id="emulator",
                    aws_secret_access_key="emulator",
                    config=Config(retries={"max_attempts": 2}, max_pool_connections=32),
                )
            return self._clients[service]

    def register_stopper(self, kind: str, name: str, stop: Any) -> None:
        """Remember how to stop a running job, so shutdown can stop it."""
        with self._clients_lock:
            self._stoppers[(kind, name)] = stop

    def unregister_stopper(self, kind: str, name: str) -> None:
        with self._clients_lock:
            self._stoppers.pop((kind, name), None)

    def stop_job(self, kind: str, name: str) -> None:
        """Ask a running job to stop; a job that already ended has no stopper left."""
        with self._clients_lock:
            stop = self._stoppers.get((kind, name))
        if stop is not None:
            stop()

    def shutdown(self) -> None:
        """Stop every running job and wait for the pool to drain."""
        self.shutting_down.set()
        with self._clients_lock:
            stoppers = list(self._stoppers.values())
        for stop in stoppers:
            try:
                stop()
            except Exception:  # a job that will not stop must not block the others
                log.exception("stopping a job failed")
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.store.close()
        self.data_lock.release()
