"""S3 survives a restart: objects and buckets are mirrored under the data dir (s3_persistence).

Most tests restart an in-process EmulatorServer on the same data dir. moto's S3 backend is
process-global and shared with the session's emulator (tests/conftest.py), so ``own_s3``
parks whatever that emulator holds for the duration of a test and puts it back afterwards.
The SIGKILL test runs the emulator as a child process: a SIGKILL must hit a whole process.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import re
import signal
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from moto.s3.models import MultipartChecksumBuilder, s3_backends

from emulator import s3_persistence
from emulator.process import EmulatorProcess
from emulator.server import EmulatorServer
from tests.conftest import emulator_client

ACCOUNT = "123456789012"
MiB = 1024 * 1024


@pytest.fixture()
def own_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty moto S3 backend for this test; the session emulator's state is put back."""
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)  # the emulator points it away
    backend = s3_backends[ACCOUNT]["aws"]
    parked_state = backend.__dict__
    parked_accounts = dict(s3_backends.bucket_accounts)
    for name in parked_state.get("buckets", {}):
        s3_backends.bucket_accounts.pop(name, None)
    backend.__dict__ = {}
    backend.__init__(parked_state["region_name"], parked_state["account_id"])
    yield
    s3_persistence._reset_backend(backend)  # closes the files this test's objects hold
    backend.__dict__ = parked_state
    s3_backends.bucket_accounts.clear()
    s3_backends.bucket_accounts.update(parked_accounts)


def snapshot(s3: Any) -> dict[str, Any]:
    """Everything a client sees of S3: buckets and, per object, bytes and attributes."""
    state: dict[str, Any] = {"buckets": {}}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                got = s3.get_object(Bucket=name, Key=item["Key"], ChecksumMode="ENABLED")
                objects[item["Key"]] = {
                    "listed": (item["ETag"], item["LastModified"], item["Size"]),
                    "sha256": hashlib.sha256(got["Body"].read()).hexdigest(),
                    "etag": got["ETag"],
                    "last_modified": got["LastModified"],
                    "content_type": got["ContentType"],
                    "metadata": got["Metadata"],
                    "checksums": {k: v for k, v in got.items() if k.startswith("Checksum")},
                }
        state["buckets"][name] = {"created": bucket["CreationDate"], "objects": objects}
    return state


class RestartableEmulator:
    """An emulator in this process on ``data_dir``, stopped and started again by the test."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = EmulatorServer(data_dir, port=0).start()

    @property
    def s3(self) -> Any:
        """A new S3 client for the emulator running now."""
        return emulator_client(self.server.url, "s3")

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> Any:
        """A new emulator on the same data dir, restored from it; its S3 client."""
        self.server = EmulatorServer(self.data_dir, port=0).start()
        return self.s3

    def restart(self) -> Any:
        self.stop()
        return self.start()


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[RestartableEmulator]:
    emulator = RestartableEmulator(data_dir)
    try:
        yield emulator
    finally:
        emulator.stop()


def multipart_upload(s3: Any, bucket: str, key: str, parts: list[bytes]) -> str:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-tar")
    done = []
    for number, part in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=part
        )["ETag"]
        done.append({"ETag": etag, "PartNumber": number})
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )
    md5s = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"'


def test_objects_and_buckets_survive_a_restart(own_s3: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="keep")
        s3.create_bucket(Bucket="dropped")
        s3.delete_bucket(Bucket="dropped")
        big = os.urandom(3 * MiB)
        s3.put_object(Bucket="keep", Key="data/big.bin", Body=big)
        s3.put_object(
            Bucket="keep",
            Key="data/small.json",
            Body=b'{"a": 1}',
            ContentType="application/json",
            Metadata={"run-id": "r1", "owner": "ml"},
        )
        parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(2 * MiB)]
        multipart_etag = multipart_upload(s3, "keep", "model/model.tar.gz", parts)
        s3.put_object(Bucket="keep", Key="tmp/deleted.txt", Body=b"bye")
        s3.delete_object(Bucket="keep", Key="tmp/deleted.txt")
        s3.put_object(Bucket="keep", Key="tmp/a", Body=b"a")
        s3.put_object(Bucket="keep", Key="tmp/b", Body=b"b")
        s3.delete_objects(Bucket="keep", Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "tmp/b"}]})
        s3.put_object(Bucket="keep", Key="data/overwritten", Body=b"first")
        s3.put_object(Bucket="keep", Key="data/overwritten", Body=b"second")
        before = snapshot(s3)

        s3 = emulator.restart()
        after = snapshot(s3)

    assert after == before
    assert list(after["buckets"]) == ["keep"]
    objects = after["buckets"]["keep"]["objects"]
    assert sorted(objects) == [
        "data/big.bin",
        "data/overwritten",
        "data/small.json",
        "model/model.tar.gz",
    ]
    assert objects["data/big.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert objects["data/overwritten"]["sha256"] == hashlib.sha256(b"second").hexdigest()
    assert objects["data/small.json"]["content_type"] == "application/json"
    assert objects["data/small.json"]["metadata"] == {"run-id": "r1", "owner": "ml"}
    assert objects["model/model.tar.gz"]["etag"] == multipart_etag
    assert objects["model/model.tar.gz"]["content_type"] == "application/x-tar"
    assert objects["model/model.tar.gz"]["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    # Overwritten and deleted objects left no bytes behind: one file per live object.
    blobs = [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    assert len(blobs) == 4


def test_a_restored_big_object_streams_ranges_and_can_be_replaced(
    own_s3: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    payload = os.urandom(12 * MiB + 7)
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="ranges")
        s3.put_object(Bucket="ranges", Key="blob", Body=payload)
        s3 = emulator.restart()
        for first, last in [(0, 0), (5, MiB + 3), (12 * MiB, 12 * MiB + 6)]:
            got = s3.get_object(Bucket="ranges", Key="blob", Range=f"bytes={first}-{last}")
            assert got["Body"].read() == payload[first : last + 1]
            assert got["ContentRange"] == f"bytes {first}-{last}/{len(payload)}"
        suffix = s3.get_object(Bucket="ranges", Key="blob", Range="bytes=-10")["Body"].read()
        assert suffix == payload[-10:]
        assert s3.get_object(Bucket="ranges", Key="blob")["Body"].read() == payload
        # boto3's download_file: ranged GETs in parallel.
        s3.download_file("ranges", "blob", str(tmp_path / "blob"))
        assert (tmp_path / "blob").read_bytes() == payload
        s3.put_object(Bucket="ranges", Key="blob", Body=b"replaced")
        s3 = emulator.restart()
        assert s3.get_object(Bucket="ranges", Key="blob")["Body"].read() == b"replaced"


def test_bucket_and_object_attributes_survive(own_s3: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="attrs")
        s3.put_bucket_versioning(Bucket="attrs", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_tagging(Bucket="attrs", Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
        put = s3.put_object(Bucket="attrs", Key="k", Body=b"v1", Tagging="stage=raw")
        s3.put_object_tagging(
            Bucket="attrs", Key="k", Tagging={"TagSet": [{"Key": "stage", "Value": "clean"}]}
        )
        s3 = emulator.restart()
        assert s3.get_bucket_versioning(Bucket="attrs")["Status"] == "Enabled"
        assert s3.get_bucket_tagging(Bucket="attrs")["TagSet"] == [{"Key": "team", "Value": "ml"}]
        got = s3.get_object(Bucket="attrs", Key="k")
        assert got["Body"].read() == b"v1"
        assert got["VersionId"] == put["VersionId"]
        tags = s3.get_object_tagging(Bucket="attrs", Key="k")["TagSet"]
        assert tags == [{"Key": "stage", "Value": "clean"}]


def test_an_acknowledged_put_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    payload = os.urandom(3 * MiB)
    first = EmulatorProcess(data_dir, log_path=tmp_path / "first.log").start()
    try:
        s3 = emulator_client(first.url, "s3")
        s3.create_bucket(Bucket="durable")
        etag = s3.put_object(Bucket="durable", Key="acknowledged.bin", Body=payload)["ETag"]
        listed = s3.list_objects_v2(Bucket="durable")["Contents"][0]["LastModified"]
        process = first._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)  # right after the 200: no chance to flush
        process.wait(timeout=10)
        first._process = None
    finally:
        first.stop()
    with EmulatorProcess(data_dir, log_path=tmp_path / "second.log") as second:
        s3 = emulator_client(second.url, "s3")
        got = s3.get_object(Bucket="durable", Key="acknowledged.bin")
        assert got["Body"].read() == payload
        assert got["ETag"] == etag
        assert s3.list_objects_v2(Bucket="durable")["Contents"][0]["LastModified"] == listed


HOSTILE_KEYS = [
    "../../x",
    "../../../../../../../../tmp/escaped",
    "a/../../b",
    "/leading/slash",
    "trailing/",
    "k" * 1000,
    "ключ/日本語/🙂.txt",
    "spaces and %2F and ?query#fragment+plus",
    "..",
    "index.sqlite3",
]


def test_hostile_keys_are_stored_under_hashed_names_inside_the_data_dir(
    own_s3: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "outer" / "inner" / "data"
    bodies = {key: f"body of {key!r}".encode() for key in HOSTILE_KEYS}
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="hostile")
        for key, body in bodies.items():
            s3.put_object(Bucket="hostile", Key=key, Body=body)
        s3 = emulator.restart()
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="hostile")["Contents"]]
        assert sorted(listed) == sorted(HOSTILE_KEYS)
        for key, body in bodies.items():
            assert s3.get_object(Bucket="hostile", Key=key)["Body"].read() == body

    everything = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert everything == {p for p in data_dir.rglob("*") if p.is_file()}  # nothing outside
    blobs = [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    assert len(blobs) == len(HOSTILE_KEYS)
    for blob in blobs:
        assert re.fullmatch(r"[0-9a-f]{64}", blob.name)
        assert blob.parent.name == blob.name[:2]
        assert blob.parent.parent == data_dir / "s3" / "objects"
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    names = {p.name for p in everything}
    assert not names & {"x", "escaped", "b", "slash", "🙂.txt", "k" * 1000}


def test_concurrent_writers_leave_the_mirror_equal_to_what_clients_saw(
    own_s3: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="busy")

        def writer(number: int) -> None:
            client = emulator.s3
            rng = random.Random(number)
            for round_ in range(10):
                body = os.urandom(rng.choice([10, 2 * MiB]))  # in RAM, or in a file
                client.put_object(Bucket="busy", Key="hot", Body=body)
                client.put_object(Bucket="busy", Key=f"own/{number}/{round_}", Body=body)
                if rng.random() < 0.3:
                    client.delete_object(Bucket="busy", Key="flip")
                else:
                    client.put_object(Bucket="busy", Key="flip", Body=body[:10])

        errors: list[BaseException] = []

        def run(number: int) -> None:
            try:
                writer(number)
            except BaseException as exc:  # a thread's exception would only be a warning
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        before = snapshot(s3)
        assert snapshot(emulator.restart()) == before


def test_a_change_that_cannot_be_persisted_is_not_acknowledged(
    own_s3: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(tmp_path / "data") as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="full-disk")

        def disk_full(*args: Any, **kwargs: Any) -> None:
            raise OSError(28, "No space left on device")

        assert emulator.server._server is not None
        monkeypatch.setattr(emulator.server._server.app.s3, "sync", disk_full)
        with pytest.raises(s3.exceptions.ClientError) as raised:
            s3.put_object(Bucket="full-disk", Key="k", Body=b"v")
        assert raised.value.response["Error"]["Code"] == "InternalError"
        assert "No space left" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize("algorithm", [None, "CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
@pytest.mark.parametrize("checksum_type", [None, "COMPOSITE", "FULL_OBJECT"])
def test_streamed_multipart_checksums_equal_motos(
    algorithm: str | None, checksum_type: str | None
) -> None:
    parts = [os.urandom(n) for n in (70_000, 1, 130_001)]
    expected = MultipartChecksumBuilder(algorithm, checksum_type)
    streamed = s3_persistence._StreamingChecksumBuilder(algorithm, checksum_type)
    for part in parts:
        expected.addPart(part)
        streamed.start_part()
        for start in range(0, len(part), 4096):  # fed in chunks, as when reading a file
            streamed.update(part[start : start + 4096])
        streamed.end_part()
    assert streamed.build() == expected.build()


def test_multipart_upload_through_boto3_keeps_etag_and_checksum(
    own_s3: None, tmp_path: Path
) -> None:
    """boto3's upload_file (8 MB parts, CRC32 checksums): the streamed completion gives the
    ETag and checksum moto would, and the object reads back whole."""
    source = tmp_path / "upload.bin"
    parts = [os.urandom(8 * MiB), os.urandom(8 * MiB), os.urandom(3 * MiB)]
    source.write_bytes(b"".join(parts))
    with running(tmp_path / "data") as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="multipart")
        s3.upload_file(str(source), "multipart", "upload.bin")
        head = s3.head_object(Bucket="multipart", Key="upload.bin", ChecksumMode="ENABLED")
        md5s = b"".join(hashlib.md5(part).digest() for part in parts)
        assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
        crcs = b"".join(
            base64.b64decode(s3_persistence.compute_checksum(part, "CRC32")) for part in parts
        )
        combined = s3_persistence.compute_checksum(crcs, "CRC32").decode()
        assert head["ChecksumCRC32"].removesuffix("-3") == combined  # HeadObject: no "-3"
        body = s3.get_object(Bucket="multipart", Key="upload.bin")["Body"].read()
        assert body == source.read_bytes()


def test_restore_removes_crash_leftovers_and_skips_lost_bytes(own_s3: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="crash")
        s3.put_object(Bucket="crash", Key="kept", Body=b"kept")
        s3.put_object(Bucket="crash", Key="lost", Body=b"lost")
        emulator.stop()
        objects = data_dir / "s3" / "objects"
        # A crash between writing a blob and committing its row, or mid-copy:
        orphan = objects / "ab" / ("ab" + "0" * 62)
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(b"never committed")
        (objects / ".tmp-0123").write_bytes(b"half a copy")
        digest = hashlib.sha256(b"lost").hexdigest()
        lost = objects / digest[:2] / digest
        lost.unlink()  # bytes gone behind the emulator's back: that object alone is skipped

        s3 = emulator.start()
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]] == ["kept"]
        assert s3.get_object(Bucket="crash", Key="kept")["Body"].read() == b"kept"
        assert not orphan.exists()
        assert not (objects / ".tmp-0123").exists()


def test_a_presigned_put_is_persisted(own_s3: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as emulator:
        s3 = emulator.s3
        s3.create_bucket(Bucket="presigned")
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": "presigned", "Key": "via/url"}, ExpiresIn=60
        )
        request = urllib.request.Request(
            url,
            data=b"from a URL",
            method="PUT",
            headers={"Content-Type": "application/octet-stream"},  # urllib's default is a form
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
        assert s3.get_object(Bucket="presigned", Key="via/url")["Body"].read() == b"from a URL"
        got = emulator.restart().get_object(Bucket="presigned", Key="via/url")
        assert got["Body"].read() == b"from a URL"


def environ(method: str, path: str, *, host: str = "127.0.0.1:4588", **extra: str) -> dict:
    """A WSGI environ as werkzeug's server builds it (RAW_URI keeps the percent-encoding)."""
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": unquote(path),
        "RAW_URI": path + (f"?{query}" if query else ""),
        "QUERY_STRING": query,
        "HTTP_HOST": host,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "4588",
        "wsgi.url_scheme": "http",
        **extra,
    }


S3_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, Signature=x"
STS_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sts/aws4_request, Signature=x"


@pytest.mark.parametrize(
    ("request_environ", "target"),
    [
        (environ("PUT", "/b/k/with%20space", HTTP_AUTHORIZATION=S3_AUTH), ("b", "k/with space")),
        (environ("PUT", "/b", HTTP_AUTHORIZATION=S3_AUTH), ("b", None)),
        (environ("DELETE", "/b/k", HTTP_AUTHORIZATION=S3_AUTH), ("b", "k")),
        (environ("POST", "/b?delete", HTTP_AUTHORIZATION=S3_AUTH), ("b", None)),
        (environ("POST", "/b/k?uploadId=1", HTTP_AUTHORIZATION=S3_AUTH), ("b", "k")),
        (
            environ("PUT", "/k", host="bkt.localhost:4588", HTTP_AUTHORIZATION=S3_AUTH),
            ("bkt", "k"),
        ),
        (
            environ(
                "PUT",
                "/b/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
            ),
            ("b", "k"),
        ),
        (environ("GET", "/b/k", HTTP_AUTHORIZATION=S3_AUTH), None),
        (environ("HEAD", "/b/k", HTTP_AUTHORIZATION=S3_AUTH), None),
        (environ("POST", "/", HTTP_AUTHORIZATION=STS_AUTH), None),
        (environ("POST", "/b/k?uploads", HTTP_AUTHORIZATION=S3_AUTH), None),
        (environ("PUT", "/b/k?partNumber=1&uploadId=1", HTTP_AUTHORIZATION=S3_AUTH), None),
        (environ("DELETE", "/b/k?uploadId=1", HTTP_AUTHORIZATION=S3_AUTH), None),
    ],
)
def test_which_requests_are_synced(request_environ: dict, target: tuple | None) -> None:
    assert s3_persistence.s3_mutation_target(request_environ) == target
