"""The services moto serves (S3, STS, IAM, CloudWatch Logs), answered the way AWS answers.

- ``create_moto_app``: moto's Flask app per service, with debug off (see there) and an AWS-shaped
  answer for any operation moto does not implement: moto raises NotImplementedError, which Flask
  turned into an HTML 500 page that botocore cannot parse. The answer names the service and the
  operation (501 ``NotImplemented``), in the service's protocol (JSON or XML).
- ``IamExtras``: IAM calls that SageMaker SDK clients make and moto lacks. Today that is
  ``SimulatePrincipalPolicy`` (the SDK's role check): the emulator enforces no IAM policy, so
  every action is ``allowed``, which is exactly what the emulator will then do.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from flask import request as flask_request
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.wrappers import Response

IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
CREDENTIAL_SCOPE = re.compile(
    r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/(?P<service>[^/,\s]+)/aws4_request"
)
# Form bodies of query-protocol calls are small; anything bigger is not one of ours.
MAX_FORM_BYTES = 1024 * 1024
MOTO_ACTION = re.compile(r"The (?P<action>\w+) action has not been implemented")

StartResponse = Callable[..., Any]


def create_moto_app(service: Any) -> Any:
    """moto's ``create_backend_app`` with Flask's debug mode off and AWS-shaped "not
    implemented" answers.

    moto turns debug on; in debug mode Flask gives each request with a body a closure class
    (``attach_enctype_error_multidict``) that refers back to the request: a reference cycle,
    so every request body (an 8 MB upload part, say) stays in memory until the cyclic garbage
    collector happens to run - hundreds of MB during a big upload. Without debug, an
    unhandled error in moto still answers 500 (logged by Flask instead of werkzeug)."""
    app = create_backend_app(service)
    app.debug = False
    app.register_error_handler(NotImplementedError, lambda error: not_implemented(service, error))
    return app


def operation_name(error: Exception) -> str:
    """The operation a request asked for: X-Amz-Target, the query Action, or moto's message."""
    target = flask_request.headers.get("X-Amz-Target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    action = flask_request.values.get("Action")
    if action:
        return action
    match = MOTO_ACTION.search(str(error))
    if match:  # simulate_principal_policy -> SimulatePrincipalPolicy
        return "".join(part.capitalize() for part in match["action"].split("_"))
    return f"{flask_request.method} {flask_request.path}"


def not_implemented(service: str, error: Exception) -> Response:
    operation = operation_name(error)
    message = f"The emulator does not implement {service} {operation}."
    if flask_request.headers.get("X-Amz-Target"):  # JSON protocols (Logs, ...)
        return Response(
            json.dumps({"__type": "NotImplementedException", "message": message}),
            status=501,
            headers={"x-amzn-ErrorType": "NotImplementedException"},
            content_type="application/x-amz-json-1.1",
        )
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(body, status=501, content_type="text/xml")


def signing_service(
    environ: dict[str, Any], query: dict[str, list[str]] | None = None
) -> str | None:
    """The AWS service a SigV4 request was signed for: from the Authorization header's
    credential scope, or a presigned URL's X-Amz-Credential; None for an unsigned request."""
    match = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match["service"]
    if query is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
    for credential in query.get("X-Amz-Credential", []):
        parts = credential.split("/")
        if len(parts) >= 5 and parts[-1] == "aws4_request":
            return parts[-2]
    return None


class IamExtras:
    """Answers the IAM query actions in ``HANDLERS`` before moto sees the request."""

    def __call__(self, environ: dict[str, Any]) -> Response | None:
        """The answer when the request is an IAM action handled here; None otherwise (the
        request body, if read, is put back for moto)."""
        if environ.get("REQUEST_METHOD") != "POST" or signing_service(environ) != "iam":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_FORM_BYTES:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        form = parse_qs(body.decode("utf-8", "replace"))
        handler = HANDLERS.get((form.get("Action") or [""])[0])
        return handler(form) if handler else None


def members(form: dict[str, list[str]], name: str) -> list[str]:
    """``Name.member.1``, ``Name.member.2``, ... of a query-protocol list, in order."""
    found = []
    for key, values in form.items():
        prefix = f"{name}.member."
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            found.append((int(key[len(prefix) :]), values[0]))
    return [value for _, value in sorted(found)]


def simulate_principal_policy(form: dict[str, list[str]]) -> Response:
    actions = members(form, "ActionNames")
    if not actions or not form.get("PolicySourceArn"):
        return iam_error(
            "ValidationError",
            "1 validation error detected: PolicySourceArn and ActionNames are required.",
        )
    resources = members(form, "ResourceArns") or ["*"]
    results = "".join(
        "<member>"
        f"<EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        "<EvalDecision>allowed</EvalDecision>"
        "<MatchedStatements/><MissingContextValues/>"
        "</member>"
        for action in actions
        for resource in resources
    )
    body = (
        f'<SimulatePrincipalPolicyResponse xmlns="{IAM_NAMESPACE}">'
        "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
        f"<EvaluationResults>{results}</EvaluationResults>"
        "</SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    )
    return Response(body, content_type="text/xml")


def iam_error(code: str, message: str) -> Response:
    body = (
        f'<ErrorResponse xmlns="{IAM_NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(body, status=400, content_type="text/xml")


HANDLERS: dict[str, Callable[[dict[str, list[str]]], Response]] = {
    "SimulatePrincipalPolicy": simulate_principal_policy,
}
