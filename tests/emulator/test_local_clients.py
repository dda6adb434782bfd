"""Only local, non-browser clients are served: no CORS grant, no foreign Host, no Origin."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from emulator.local_clients import LocalClientGuard, host_name
from emulator.server import EmulatorServer
from tests.conftest import processing_request


def send(url: str, *, method: str = "POST", body: bytes = b"", headers: dict[str, str]) -> tuple:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def processing_body(name: str) -> bytes:
    return json.dumps(processing_request(name, ["true"])).encode()


def sagemaker_headers(action: str, **extra: str) -> dict[str, str]:
    return {
        "X-Amz-Target": f"SageMaker.{action}",
        "Content-Type": "application/x-amz-json-1.1",
        **extra,
    }


def create_job_sending(url: str, name: str, **headers: str) -> tuple:
    """CreateProcessingJob for job ``name`` with ``headers`` besides SageMaker's own."""
    return send(
        url, body=processing_body(name), headers=sagemaker_headers("CreateProcessingJob", **headers)
    )


def job_names(aws) -> set[str]:
    summaries = aws("sagemaker").list_processing_jobs()["ProcessingJobSummaries"]
    return {s["ProcessingJobName"] for s in summaries}


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:4588", True),
        ("127.0.0.2", True),
        ("localhost:4588", True),
        ("LOCALHOST", True),
        ("my-bucket.localhost:4588", True),
        ("[::1]:4588", True),
        ("attacker.example", False),
        ("attacker.example:4588", False),
        ("127.0.0.1.nip.io", False),  # resolves to loopback: exactly what DNS rebinding uses
        ("10.0.0.5:4588", False),
        ("", False),
    ],
)
def test_host_must_name_a_loopback_address(host: str, allowed: bool) -> None:
    assert LocalClientGuard("127.0.0.1").host_allowed(host) is allowed


def test_allow_remote_accepts_ip_literals_and_the_served_name_only() -> None:
    guard = LocalClientGuard("emulator.internal", allow_remote=True)
    assert guard.host_allowed("10.0.0.5:4588")
    assert guard.host_allowed("emulator.internal:4588")
    assert guard.host_allowed("bucket.emulator.internal:4588")
    assert not guard.host_allowed("attacker.example")
    assert not guard.host_allowed("emulator.internal.attacker.example")


def test_host_name_strips_port_and_brackets() -> None:
    assert host_name("[::1]:80") == "::1"
    assert host_name("Example.COM.:443") == "example.com"
    assert host_name("::1") == "::1"


def test_cors_preflight_gets_no_grant(emulator: EmulatorServer) -> None:
    status, headers, _ = send(
        emulator.url,
        method="OPTIONS",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
    )
    assert status == 403
    assert not [k for k in headers if k.lower().startswith("access-control-")]


def test_cross_origin_post_is_refused_and_creates_nothing(emulator: EmulatorServer, aws) -> None:
    status, headers, body = create_job_sending(
        emulator.url, "cross-origin-job", Origin="http://evil.example"
    )
    assert status == 403
    assert json.loads(body)["__type"] == "AccessDeniedException"
    assert not [k for k in headers if k.lower().startswith("access-control-")]
    assert "cross-origin-job" not in job_names(aws)


def test_fetch_metadata_without_origin_is_refused(emulator: EmulatorServer, aws) -> None:
    # A no-cors navigation or form post may omit Origin but carries Sec-Fetch-* headers.
    status, _, _ = create_job_sending(
        emulator.url, "sec-fetch-job", **{"Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403
    assert "sec-fetch-job" not in job_names(aws)


def test_foreign_host_is_refused_and_creates_nothing(emulator: EmulatorServer, aws) -> None:
    status, _, body = create_job_sending(
        emulator.url, "rebinding-job", Host="attacker.example:4588"
    )
    assert status == 403
    assert "attacker.example" in json.loads(body)["message"]
    assert "rebinding-job" not in job_names(aws)


def test_foreign_host_cannot_write_to_s3(emulator: EmulatorServer, aws, bucket: str) -> None:
    status, _, body = send(
        f"{emulator.url}/{bucket}/planted.txt",
        method="PUT",
        body=b"planted",
        headers={"Host": "attacker.example"},
    )
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    listed = aws("s3").list_objects_v2(Bucket=bucket, Prefix="planted.txt")
    assert listed.get("KeyCount", 0) == 0


def test_local_clients_are_still_served(emulator: EmulatorServer, aws, bucket: str) -> None:
    aws("s3").put_object(Bucket=bucket, Key="local-client.txt", Body=b"ok")
    response = aws("s3").get_object(Bucket=bucket, Key="local-client.txt")
    assert response["Body"].read() == b"ok"
    status, _, _ = send(f"{emulator.url}/_emulator/health", method="GET", headers={})
    assert status == 200
