"""Starting and stopping the emulator: in-process for tests, or as `python -m emulator serve`."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from emulator.app import EmulatorApp
from emulator.local_clients import LocalClientGuard, is_loopback
from emulator.sagemaker.engine import Engine

log = logging.getLogger("emulator")
# One line per request drowns the job logs; errors are still logged by the app.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

DEFAULT_PORT = 4588


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmulatorServer:
    """One HTTP endpoint for S3, STS, IAM, Logs, SageMaker and SageMaker Runtime.

    ``port=0`` picks a free port. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        region: str = "us-east-1",
        max_jobs: int = 2,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to listen on non-loopback host {host!r}: the emulator has no "
                "authentication; pass allow_remote=True (--allow-remote) if you mean it"
            )
        self.host = host
        self.allow_remote = allow_remote
        self.port = port or free_port(host)
        self.engine = Engine(Path(data_dir), region=region, max_jobs=max_jobs)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        self._server = make_server(
            self.host,
            self.port,
            EmulatorApp(self.engine, LocalClientGuard(self.host, allow_remote=self.allow_remote)),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self.port = self._server.server_address[1]
        self.engine.serve(self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="emulator-http", daemon=True
        )
        self._thread.start()
        log.info("emulator listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another thread/signal."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop running jobs, then the HTTP server."""
        self.engine.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
