"""The WSGI application: routes each request to the engine or to moto."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server import werkzeug_app as moto_werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.wrappers import Request, Response

from emulator.local_clients import LocalClientGuard, without_cors_headers
from emulator.moto_services import IamExtras, create_moto_app
from emulator.s3_persistence import PersistentS3
from emulator.sagemaker import protocol
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import SageMakerError
from emulator.sagemaker.registry import RUNTIME_ROUTES

log = logging.getLogger("emulator.app")

HEALTH_PATH = "/_emulator/health"
# SageMaker Runtime's REST paths, e.g. POST /endpoints/my-endpoint/invocations
RUNTIME_PATH = re.compile(r"^/endpoints/(?P<endpoint>[^/]+)/(?P<operation>[a-z-]+)$")

StartResponse = Callable[..., Any]


class EmulatorApp:
    """SageMaker (``X-Amz-Target: SageMaker.*``) and SageMaker Runtime go to the engine;
    everything else (S3, STS, IAM, CloudWatch Logs) to moto's server application."""

    def __init__(self, engine: Engine, guard: LocalClientGuard | None = None) -> None:
        self.engine = engine
        self.guard = guard or LocalClientGuard()
        # moto grants CORS to every origin by default; the emulator serves no browser at all.
        moto_werkzeug_app.DISABLE_GLOBAL_CORS = True
        # S3 lives in moto's process-global backend; restore it from the data dir before
        # serving (this resets moto's S3 for the account: one emulator per process).
        self.s3 = PersistentS3(engine.data_dir, region=engine.region, account_id=engine.account_id)
        self.s3.restore()
        self.moto = DomainDispatcherApplication(create_moto_app)  # debug off: see there
        self.iam_extras = IamExtras()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refusal = self.guard.refusal(environ)
        if refusal is not None:
            return refusal(environ, start_response)

        def start_without_cors(status: str, headers: list, *args: Any) -> Any:
            return start_response(status, without_cors_headers(headers), *args)

        return self._dispatch(environ, start_without_cors)

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path = environ.get("PATH_INFO", "")
        if target.startswith(protocol.TARGET_PREFIX):
            response = self._sagemaker(Request(environ), target[len(protocol.TARGET_PREFIX) :])
        elif path == HEALTH_PATH:
            response = self._health()
        elif (match := RUNTIME_PATH.match(path)) and environ.get("REQUEST_METHOD") == "POST":
            response = self._runtime(Request(environ), match["endpoint"], match["operation"])
        elif (answer := self.iam_extras(environ)) is not None:
            response = answer  # IAM calls SDK clients make that moto lacks
        else:
            # A mutating S3 request is synced to disk before its response is sent.
            return self.s3.handle(self.moto, environ, start_response)
        return response(environ, start_response)

    def _sagemaker(self, request: Request, action: str) -> Response:
        try:
            payload = self.engine.handle(action, request.get_data())
        except SageMakerError as error:
            return Response(
                protocol.encode_error(error),
                status=error.status,
                headers={"x-amzn-ErrorType": error.code},
                content_type="application/x-amz-json-1.1",
            )
        except Exception as exc:  # a bug in a handler answers 500, never kills the server
            log.exception("SageMaker.%s crashed", action)
            error = SageMakerError(f"Internal error in the emulator: {exc}")
            return Response(
                protocol.encode_error(error), status=500, content_type="application/x-amz-json-1.1"
            )
        return Response(
            protocol.encode_response(payload), content_type="application/x-amz-json-1.1"
        )

    def _runtime(self, request: Request, endpoint: str, operation: str) -> Response:
        handler = RUNTIME_ROUTES.get(operation)
        if handler is None:
            body = {"message": f"SageMaker Runtime operation '{operation}' is not emulated."}
            return Response(json.dumps(body), status=404, content_type="application/json")
        try:
            return handler(self.engine, endpoint, request)
        except Exception as exc:
            log.exception("runtime %s on %s crashed", operation, endpoint)
            body = {"ErrorCode": "InternalFailure", "Message": f"Internal error: {exc}"}
            return Response(
                json.dumps(body),
                status=500,
                headers={"x-amzn-ErrorType": "InternalFailure"},
                content_type="application/json",
            )

    def _health(self) -> Response:
        body = {
            "status": "ok",
            "services": ["s3", "sts", "iam", "logs", "sagemaker", "sagemaker-runtime"],
            "region": self.engine.region,
            "max_concurrent_jobs": self.engine.max_jobs,
        }
        return Response(json.dumps(body), content_type="application/json")
