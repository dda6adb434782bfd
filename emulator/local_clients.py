"""Only local, non-browser clients: the emulator runs arbitrary code by design.

Anyone who can send the emulator a CreateProcessingJob can run a command on this machine, so
the endpoint refuses what a web page could send:

- a request that carries a browser's ``Origin`` or ``Sec-Fetch-*`` headers (every cross-origin
  fetch and form post carries them; boto3, the AWS CLI and the SDKs never do), and every CORS
  preflight: no ``Access-Control-*`` grant is ever sent;
- a request whose ``Host`` does not name the address the emulator serves. A DNS-rebinding page
  reaches 127.0.0.1 under its own domain name, which this check refuses; an IP literal cannot be
  rebound, so with ``--allow-remote`` any IP literal is accepted beside the ``--host`` given.

Refusals are AWS-shaped 403 ``AccessDenied`` answers (JSON for SageMaker's JSON protocol, XML for
the rest), so a client reports them as a ClientError naming the reason.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

from werkzeug.wrappers import Response

log = logging.getLogger("emulator.local_clients")

BROWSER_HEADERS = ("HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE")


def host_name(host_header: str) -> str:
    """The name or IP in a Host header, without the port and IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:4588
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:  # name:port or v4:port (a bare IPv6 has several colons)
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP: an address only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_name(name: str) -> bool:
    """What ``is_loopback`` accepts, or any name under .localhost (RFC 6761)."""
    return name.endswith(".localhost") or is_loopback(name)


class LocalClientGuard:
    """Decides whether a request may be served; ``refusal`` returns the answer when not."""

    def __init__(self, served_host: str = "127.0.0.1", *, allow_remote: bool = False) -> None:
        self.served_host = host_name(served_host)
        self.allow_remote = allow_remote

    def host_allowed(self, host_header: str) -> bool:
        name = host_name(host_header)
        if not name:
            return False
        if is_loopback_name(name):
            return True
        served = self.served_host
        # S3 virtual-hosted style puts the bucket in front of the served name.
        if served and not is_ip_literal(served) and (name == served or name.endswith("." + served)):
            return True
        if name == served:
            return True
        return self.allow_remote and is_ip_literal(name)

    def refusal(self, environ: dict[str, Any]) -> Response | None:
        """None when the request may be served, else the 403 to send."""
        browser = [key for key in BROWSER_HEADERS if environ.get(key)]
        if browser or environ.get("REQUEST_METHOD") == "OPTIONS":
            origin = environ.get("HTTP_ORIGIN", "")
            log.warning(
                "refused a browser request (Origin %r) to %s", origin, environ.get("PATH_INFO")
            )
            return access_denied(
                environ,
                "The emulator serves local, non-browser clients only: requests from web pages "
                "(Origin or Sec-Fetch headers, CORS preflights) are refused.",
            )
        host = environ.get("HTTP_HOST", "")
        if not self.host_allowed(host):
            log.warning("refused a request for Host %r", host)
            return access_denied(
                environ,
                f"Host {host!r} is not an address this emulator serves "
                f"({self.served_host} or a loopback name).",
            )
        return None


def access_denied(environ: dict[str, Any], message: str) -> Response:
    if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocols (SageMaker, Logs, ...)
        body = json.dumps({"__type": "AccessDeniedException", "message": message})
        return Response(
            body,
            status=403,
            headers={"x-amzn-ErrorType": "AccessDeniedException"},
            content_type="application/x-amz-json-1.1",
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>AccessDenied</Code><Message>{escape_xml(message)}</Message></Error>"
    )
    return Response(xml, status=403, content_type="application/xml")


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def without_cors_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop any Access-Control-* header a backend might add (e.g. a bucket's CORS rules)."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
