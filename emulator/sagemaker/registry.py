"""Maps SageMaker API action names to the functions that implement them.

Each resource module decorates its handlers with ``@action("CreateX")``; a handler takes the
engine and the request parameters (already validated against botocore's service model) and
returns the response dict (datetimes allowed; the protocol layer serialises them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine

Handler = Callable[["Engine", dict[str, Any]], dict[str, Any]]

ACTIONS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the implementation of the SageMaker action ``name``."""

    def register(fn: Handler) -> Handler:
        if name in ACTIONS:
            raise RuntimeError(f"SageMaker action {name} registered twice")
        ACTIONS[name] = fn
        return fn

    return register


# SageMaker Runtime is REST, not JSON 1.1: handlers take the engine, the endpoint name and the
# werkzeug Request, and return a werkzeug Response (body, content type, status as AWS sends).
RuntimeHandler = Callable[["Engine", str, Any], Any]

RUNTIME_ROUTES: dict[str, RuntimeHandler] = {}


def runtime_route(operation: str) -> Callable[[RuntimeHandler], RuntimeHandler]:
    """Register the handler of ``POST /endpoints/<name>/<operation>`` (e.g. ``invocations``)."""

    def register(fn: RuntimeHandler) -> RuntimeHandler:
        RUNTIME_ROUTES[operation] = fn
        return fn

    return register
