"""S3 that survives a restart: moto serves the wire protocol, this module keeps it on disk.

Decision: S3 stays moto's implementation of the protocol (signatures, checksums, multipart,
listing); the project does not write an S3 server. What moto lacks is durability (its backend
is in memory) and bounded memory for big objects. This module adds both, around moto:

* ``PersistentS3`` mirrors moto's S3 state for the emulator's account under
  ``<data_dir>/s3/``: bucket and object metadata in ``index.sqlite3`` (WAL, one short
  transaction per change), object bytes in ``objects/<2 hex>/<sha256 of the bytes>``. Files are
  named by a hash of their content, never by the key (keys are hostile: ``../../x``), written
  to a temporary file, fsynced and renamed into place *before* the index row that points at
  them is committed; a crash leaves at worst an unreferenced file, removed at the next start.
* ``sync()`` brings the mirror up to date after a mutating request (``EmulatorApp`` calls it
  before the response goes out, so an acknowledged PUT is on disk), ``restore()`` rebuilds
  moto's backend from the mirror at start-up without reading big objects into memory: the
  restored key's buffer is the (read-only) blob file itself.
* Memory: moto keeps each object in a ``SpooledTemporaryFile`` that stays in RAM up to
  ``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE`` (5 MiB by default); we lower it to 1 MiB and put the
  temporary files under ``<data_dir>/tmp``. Two moto code paths materialise whole objects
  (``FakeMultipart.complete`` concatenates every part in a bytearray - twice, with the
  checksum - and ``GetObject`` returns ``key.value`` even for a ranged GET): both get a small,
  narrowly scoped adapter (``install_moto_adapters``) that streams instead. And moto's Flask
  apps run in debug mode, which makes every request body live until the cyclic garbage
  collector runs (``moto_services.create_moto_app`` turns it off). Measured on a 500 MB boto3
  upload and download: emulator peak RSS 1.6 GB and 1.1 GB before, about 0.3 GB and 0.15 GB after;
  what remains is the upload's parts in flight (10 x 8 MB, a few copies each).
* Two moto races that concurrent writes of one key hit, fixed in the same adapters: the ETag
  is computed while the bytes are at hand (moto computes it lazily, after a concurrent PUT
  may have closed the buffer), and ``dispose()`` takes the key's lock, as readers do.

What is kept: buckets (name, region, creation date, versioning status, tags, policy,
encryption) and each bucket's *current* objects (bytes, ETag, LastModified, size, metadata and
content type, storage class, version id, checksum, SSE and lock fields, tags). Not kept: older
versions and delete markers of versioned buckets, ACLs, in-progress multipart uploads, other
bucket configuration (lifecycle, CORS, notifications, website, logging).

moto's backends are process-global singletons: two in-process emulators share one S3 backend,
and ``restore()`` replaces whatever that backend holds with the data dir's content.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import logging
import os
import re
import resource
import sqlite3
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

from moto.core.request import Request as MotoRequest
from moto.s3 import models as s3_models
from moto.s3 import utils as s3_utils
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.models import FakeBucket, FakeKey, FakeMultipart, S3Backend, s3_backends
from moto.s3.responses import S3Response
from moto.s3.utils import bucket_name_from_url, compute_checksum
from moto.s3bucket_path.utils import bucket_name_from_url as path_style_bucket_name
from moto.s3bucket_path.utils import parse_key_name as path_style_key_name
from moto.settings import get_s3_default_key_buffer_size
from moto.utilities.utils import LowercaseDict, get_partition

from emulator.moto_services import signing_service

log = logging.getLogger("emulator.s3")

# Objects up to this size stay in RAM in moto; bigger ones roll over to a temporary file.
KEY_BUFFER_SIZE = 1024 * 1024
# Bytes moved per read/write when copying or streaming an object.
CHUNK_SIZE = 1024 * 1024
SCHEMA_VERSION = 1

StartResponse = Callable[..., Any]


# --- moto adapters -------------------------------------------------------------------------------
class PreparedValue:
    """An object's bytes already in a file, handed to ``FakeKey`` as its value.

    FakeKey's value setter copies bytes into a fresh buffer; for this type our setter adopts
    the file as the buffer instead, so neither restore nor a completed multipart upload has
    the whole object in memory. The key is complete when it becomes visible in its bucket.
    """

    def __init__(self, file: BinaryIO | tempfile.SpooledTemporaryFile[bytes], size: int) -> None:
        self.file = file
        self.size = size


_original_value_setter = FakeKey.value.fset  # type: ignore[attr-defined]
_original_dispose = FakeKey.dispose
_original_get_object = S3Response.get_object
_adapters_lock = threading.Lock()
_adapters_installed = False


def _value_setter(key: FakeKey, new_value: Any) -> None:
    if isinstance(new_value, PreparedValue):
        key._value_buffer.close()
        key._value_buffer = new_value.file
        key.contentsize = new_value.size
        return
    buffer = key._value_buffer
    if (
        isinstance(buffer, tempfile.SpooledTemporaryFile)
        and isinstance(new_value, bytes | bytearray | memoryview)
        and len(new_value) > key._max_buffer_size
    ):
        # A value that will not stay in RAM goes straight to the file: written to the
        # in-memory buffer first, it would be copied twice more (BytesIO, then getvalue()
        # on rollover) - per uploaded part, with ten parts in flight.
        buffer.rollover()
    _original_value_setter(key, new_value)
    if key._etag is None and isinstance(new_value, bytes | bytearray | memoryview):
        # moto computes the ETag lazily, from the buffer, when the PUT's response is built -
        # after the key is visible, so a concurrent PUT of the same key may have closed the
        # buffer by then (a 500). The bytes are here now, before the key is published.
        key._etag = hashlib.md5(new_value, usedforsecurity=False).hexdigest()


def _dispose(key: FakeKey, garbage: bool = False) -> None:
    """moto's dispose (close the buffer: the key was overwritten or deleted) under the key's
    lock, which moto's value getter and our ``_snapshot`` hold while they read: without it,
    the descriptor could be closed - and its number reused by another file - between
    ``fileno()`` and ``os.dup()``."""
    lock = getattr(key, "lock", None)  # absent if FakeKey.__init__ failed half-way
    if lock is None:
        _original_dispose(key, garbage)
        return
    with lock:
        _original_dispose(key, garbage)


class _RunningChecksum:
    """``moto.s3.utils.compute_checksum`` fed in chunks, with the same algorithm fallbacks
    (crc32c and awscrt are optional; without them moto uses CRC32)."""

    def __init__(self, algorithm: str) -> None:
        self._hash: Any = None
        self._crc = 0
        self._width = 4
        self._crc_update: Callable[[bytes, int], int] = binascii.crc32
        if algorithm == "SHA1":
            self._hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm == "CRC32C":
            try:
                import crc32c  # type: ignore[import-not-found]

                self._crc_update = lambda data, crc: crc32c.crc32c(data, value=crc)
            except ImportError:
                pass
        elif algorithm == "CRC64NVME":
            if s3_utils.HAS_CRT:
                from awscrt import checksums  # type: ignore[import-not-found]

                self._crc_update = lambda data, crc: checksums.crc64nvme(
                    data, previous_crc64nvme=crc
                )
                self._width = 8
        elif algorithm != "CRC32":
            self._hash = hashlib.sha256(usedforsecurity=False)

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = self._crc_update(data, self._crc)

    def digest(self) -> bytes:
        if self._hash is not None:
            return bytes(self._hash.digest())
        return self._crc.to_bytes(self._width, "big")


class _StreamingChecksumBuilder:
    """moto's ``MultipartChecksumBuilder`` without keeping the whole object in a bytearray."""

    def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
        self.algorithm = algorithm or "CRC64NVME"
        self.type = checksum_type or (
            "FULL_OBJECT" if self.algorithm == "CRC64NVME" else "COMPOSITE"
        )
        self._parts = 0
        self._part_digests = bytearray()
        self._running = _RunningChecksum(self.algorithm)

    def start_part(self) -> None:
        if self.type == "COMPOSITE":
            self._running = _RunningChecksum(self.algorithm)

    def update(self, data: bytes) -> None:
        self._running.update(data)

    def end_part(self) -> None:
        if self.type == "COMPOSITE":
            self._part_digests.extend(self._running.digest())
        self._parts += 1

    def build(self) -> tuple[str, str, int]:
        if self.type == "COMPOSITE":
            combined = compute_checksum(bytes(self._part_digests), self.algorithm).decode()
            return self.type, combined, self._parts
        return self.type, base64.b64encode(self._running.digest()).decode(), 1


def _complete_multipart(
    multipart: FakeMultipart, body: Iterator[tuple[int, str]]
) -> tuple[PreparedValue, str, tuple[str, str, int] | None]:
    """Replaces ``FakeMultipart.complete``: same validation, ETag and checksum, but the parts
    are copied chunk by chunk into one spooled temporary file (moto builds two bytearrays of
    the whole object). Returns a ``PreparedValue`` that ``put_object`` hands to the new key."""
    builder = _StreamingChecksumBuilder(
        multipart.metadata.get("x-amz-checksum-algorithm"),
        multipart.metadata.get("x-amz-checksum-type"),
    )
    # Not a context manager: on success the file becomes the new key's buffer.
    assembled = tempfile.SpooledTemporaryFile(max_size=get_s3_default_key_buffer_size())  # noqa: SIM115
    md5s = bytearray()
    size = 0
    count = 0
    last: FakeKey | None = None
    try:
        for part_number, etag in body:
            part = multipart.parts.get(part_number)
            part_etag = part.etag.replace('"', "") if part is not None else None
            if part is None or part_etag != etag.replace('"', ""):
                raise InvalidPart()
            if last is not None and last.contentsize < s3_models.S3_UPLOAD_PART_MIN_SIZE:
                raise EntityTooSmall()
            md5s.extend(bytes.fromhex(part_etag))  # type: ignore[arg-type]
            builder.start_part()
            for chunk in _read_key(part):
                assembled.write(chunk)
                builder.update(chunk)
                size += len(chunk)
            builder.end_part()
            last = part
            count += 1
        if count == 0:
            raise MalformedXML
    except BaseException:
        assembled.close()
        raise
    etag = f"{hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()}-{count}"
    return PreparedValue(assembled, size), etag, builder.build()


class _ObjectBody:
    """A GetObject response body that reads the object from its file while it is sent.

    moto's handler only needs ``len()`` and slicing (for Range) from the body; werkzeug
    iterates it. It reads with ``os.pread`` on its own duplicate of the descriptor, so other
    readers' file positions don't matter, and an overwrite or delete of the key while the
    response is being sent (which closes moto's file) doesn't cut the response short.
    """

    def __init__(self, source: _FileSource, start: int, stop: int) -> None:
        self._source = source
        self._start = start
        self._stop = stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __bool__(self) -> bool:
        return self._stop > self._start

    def __getitem__(self, index: slice) -> _ObjectBody:
        if not isinstance(index, slice):
            raise TypeError("an object body can only be sliced")
        selected = range(self._start, self._stop)[index]
        if selected.step != 1:
            raise ValueError("an object body can only be sliced with step 1")
        return _ObjectBody(self._source, selected.start, max(selected.start, selected.stop))

    def __iter__(self) -> Iterator[bytes]:
        yield from self._source.read(self._start, self._stop)

    def close(self) -> None:  # WSGI calls it when the response is done or the client left
        self._source.close()


class _StreamingKey:
    """A FakeKey whose ``value`` is an ``_ObjectBody`` for objects that live in a file."""

    def __init__(self, key: FakeKey) -> None:
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)

    @property
    def value(self) -> bytes | _ObjectBody:
        source = _snapshot(self._key)
        if source is None:  # disposed meanwhile: let moto fail as it would
            return self._key.value
        if isinstance(source, bytes):
            return source
        return _ObjectBody(source, 0, source.size)


def _get_object(self: S3Response) -> Any:
    """Replaces ``S3Response.get_object``: the same handler, given a key whose value streams.

    ``self`` is a fresh S3Response per request, so shadowing its ``_get_key`` is local to this
    request."""
    get_key = self._get_key

    def streaming_get_key(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
        key, not_modified = get_key(*args, **kwargs)
        return _StreamingKey(key), not_modified

    self._get_key = streaming_get_key  # type: ignore[method-assign]
    try:
        return _original_get_object(self)
    finally:
        del self._get_key


def install_moto_adapters() -> None:
    """Patch moto once per process (idempotent): adopt ``PreparedValue`` buffers, compute
    the ETag while the bytes are at hand, dispose under the key's lock, stream multipart
    completion and GetObject bodies. Nothing else in moto's S3 changes."""
    global _adapters_installed
    with _adapters_lock:
        if _adapters_installed:
            return
        FakeKey.value = property(FakeKey.value.fget, _value_setter)  # type: ignore[assignment,method-assign]
        FakeKey.dispose = _dispose  # type: ignore[method-assign]
        FakeMultipart.complete = _complete_multipart  # type: ignore[assignment,method-assign]
        S3Response.get_object = _get_object  # type: ignore[method-assign]
        _adapters_installed = True


# --- reading a FakeKey's bytes without materialising them ----------------------------------------
class _FileSource:
    """A duplicate descriptor of an object's file, read with pread (no shared position)."""

    def __init__(self, fd: int, size: int) -> None:
        self.size = size
        self._fd: int | None = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    def read(self, start: int, stop: int) -> Iterator[bytes]:
        offset = start
        while offset < stop:
            if self._fd is None:
                raise ValueError("object file already closed")
            chunk = os.pread(self._fd, min(CHUNK_SIZE, stop - offset), offset)
            if not chunk:
                raise OSError(f"object file ended at {offset} of {stop} bytes")
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        self._fd = None
        self._finalizer()


def _snapshot(key: FakeKey) -> bytes | _FileSource | None:
    """The key's bytes as they are now: small ones (still in RAM) copied, big ones as a
    duplicate descriptor of moto's file. None if the key was disposed (overwritten/deleted).

    Relies on SpooledTemporaryFile's ``_rolled``/``_file`` (stable since Python 3.0): calling
    ``fileno()`` on it would force an in-memory buffer to disk."""
    with key.lock:
        buffer: Any = key._value_buffer
        try:
            if isinstance(buffer, tempfile.SpooledTemporaryFile):
                if not buffer._rolled:  # type: ignore[attr-defined]
                    return bytes(buffer._file.getvalue())  # type: ignore[attr-defined]
                buffer = buffer._file  # type: ignore[attr-defined]
            return _FileSource(os.dup(buffer.fileno()), key.size)
        except ValueError:  # closed by dispose() (which holds key.lock: see _dispose)
            return None


def _read_key(key: FakeKey) -> Iterator[bytes]:
    source = _snapshot(key)
    if source is None:
        raise ValueError(f"S3 key {key.name!r} was disposed while being read")
    if isinstance(source, bytes):
        yield source
        return
    try:
        yield from source.read(0, source.size)
    finally:
        source.close()


# --- the mirror ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    blob: str
    size: int
    etag: str
    last_modified: str
    attrs: str

    @property
    def signature(self) -> tuple[str, str, int]:
        return self.etag, self.last_modified, self.size


_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, region TEXT NOT NULL, created TEXT NOT NULL, attrs TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, last_modified TEXT NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_blob ON objects (blob);
"""
_BLOB_NAME = re.compile(r"^[0-9a-f]{64}$")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class PersistentS3:
    """The on-disk mirror of moto's S3 backend for one account (see the module docstring).

    Construct it before moto's S3 backend holds anything, call ``restore()`` once, then
    ``sync()`` after every successful mutating S3 request (``handle`` does it for a WSGI
    request). ``sync`` is thread-safe.
    """

    def __init__(
        self, data_dir: Path | str, *, region: str = "us-east-1", account_id: str = "123456789012"
    ) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "s3"
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.data_dir / "tmp"
        self.region = region
        self.account_id = account_id
        for directory in (self.objects_dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        _configure_process(self.tmp_dir)
        install_moto_adapters()
        # One connection, used only under self._lock (the server is threaded).
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "index.sqlite3", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when sync returns, also across a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(
                f"{self.root / 'index.sqlite3'} has S3 index format {version}; this emulator "
                f"reads format {SCHEMA_VERSION}"
            )
        with self._db:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        weakref.finalize(self, self._db.close)

    @property
    def backend(self) -> S3Backend:
        return s3_backends[self.account_id][get_partition(self.region)]

    # --- start-up -------------------------------------------------------------------------------
    def restore(self) -> dict[str, float]:
        """Reset moto's S3 backend for the account and load the mirror into it.

        Big objects are not read: the restored key's buffer is its blob file, opened
        read-only (moto never writes into an existing key's buffer). Returns counts and the
        time taken, which are also logged."""
        started = time.monotonic()
        with self._lock:
            _reset_backend(self.backend)
            referenced = self._restore_buckets_and_objects()
            # What the index references, restored or not: a row that failed to restore keeps
            # its bytes for a later attempt.
            blobs = {blob for (blob,) in self._db.execute("SELECT DISTINCT blob FROM objects")}
            removed = self._remove_unreferenced_files(blobs)
        elapsed = time.monotonic() - started
        stats = {
            "buckets": referenced["buckets"],
            "objects": referenced["objects"],
            "bytes": referenced["bytes"],
            "removed_files": removed,
            "seconds": round(elapsed, 3),
        }
        # Quiet on a fresh data dir: `serve` prints its ready line right after.
        log.log(
            logging.INFO if stats["buckets"] or removed else logging.DEBUG,
            "S3 restored from %s: %d buckets, %d objects, %.1f MB in %.2fs",
            self.root,
            stats["buckets"],
            stats["objects"],
            stats["bytes"] / 1e6,
            elapsed,
        )
        return stats

    def _restore_buckets_and_objects(self) -> dict[str, Any]:
        backend = self.backend
        counts: dict[str, Any] = {"buckets": 0, "objects": 0, "bytes": 0}
        buckets = self._db.execute("SELECT name, region, created, attrs FROM buckets").fetchall()
        for name, region, created, attrs in buckets:
            if name in s3_backends.bucket_accounts:  # another account of this process has it
                log.error("S3 restore: bucket %r already exists in moto; not restored", name)
                continue
            # FakeBucket directly, not create_bucket(): a restore is not a CreateBucket event.
            bucket = FakeBucket(name=name, account_id=self.account_id, region_name=region)
            bucket.creation_date = datetime.datetime.fromisoformat(created)
            backend.buckets[name] = bucket
            extra = json.loads(attrs)
            bucket.versioning_status = extra.get("versioning_status")
            policy = extra.get("policy")
            bucket.policy = policy.encode() if policy is not None else None
            bucket.encryption = extra.get("encryption")
            if extra.get("tags"):
                backend.put_bucket_tagging(name, extra["tags"])
            counts["buckets"] += 1
            rows = self._db.execute(
                "SELECT key, blob, size, etag, last_modified, attrs FROM objects WHERE bucket = ?",
                (name,),
            ).fetchall()
            for key_name, blob, size, etag, last_modified, key_attrs in rows:
                row = _Row(blob, size, etag, last_modified, key_attrs)
                if self._restore_object(name, key_name, row):
                    counts["objects"] += 1
                    counts["bytes"] += size
        return counts

    def _restore_object(self, bucket_name: str, key_name: str, row: _Row) -> bool:
        path = self._blob_path(row.blob)
        try:
            file = path.open("rb")
        except OSError as exc:
            log.error("S3 restore: s3://%s/%s lost its bytes (%s)", bucket_name, key_name, exc)
            return False
        if os.fstat(file.fileno()).st_size != row.size:
            file.close()
            log.error("S3 restore: s3://%s/%s has a truncated blob", bucket_name, key_name)
            return False
        value: bytes | PreparedValue
        if row.size <= get_s3_default_key_buffer_size():
            with file:  # small: in RAM like any other small moto key, no descriptor held
                value = file.read()
        else:
            value = PreparedValue(file, row.size)
        attrs = json.loads(row.attrs)
        try:
            key = self.backend.put_object(
                bucket_name,
                key_name,
                value,  # type: ignore[arg-type]
                storage=attrs.get("storage_class"),
                etag=row.etag,
                encryption=attrs.get("encryption"),
                kms_key_id=attrs.get("kms_key_id"),
                bucket_key_enabled=attrs.get("bucket_key_enabled"),
                lock_mode=attrs.get("lock_mode"),
                lock_legal_status=attrs.get("lock_legal_status"),
                lock_until=attrs.get("lock_until"),
                checksum_value=attrs.get("checksum_value"),
                disable_notification=True,
            )
        except Exception:
            if isinstance(value, PreparedValue):
                value.file.close()
            log.exception("S3 restore: s3://%s/%s could not be restored", bucket_name, key_name)
            return False
        key.last_modified = datetime.datetime.fromisoformat(row.last_modified)
        key._version_id = attrs.get("version_id")
        key._is_versioned = bool(attrs.get("is_versioned"))
        key._metadata = LowercaseDict(attrs.get("metadata") or {})
        key.checksum_algorithm = attrs.get("checksum_algorithm")
        key.checksum_type = attrs.get("checksum_type")
        key.checksum_parts = attrs.get("checksum_parts")
        key.website_redirect_location = attrs.get("website_redirect_location")
        if attrs.get("tags"):
            self.backend.tagger.tag_resource(
                key.arn, [{"Key": k, "Value": v} for k, v in attrs["tags"].items()]
            )
        return True

    def _remove_unreferenced_files(self, referenced: set[str]) -> int:
        """Blobs no row points at and temporary files: left by a crash between writing a
        blob and committing (or deleting after committing)."""
        removed = 0
        for path in self.objects_dir.rglob("*"):
            if path.is_file() and path.name not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # --- keeping the mirror up to date -----------------------------------------------------------
    def sync(self, bucket: str | None = None, key: str | None = None) -> None:
        """Write to disk what changed in moto for ``key`` of ``bucket``, all of ``bucket``
        (keys, and the bucket itself: created, deleted, its attributes), or every bucket when
        ``bucket`` is None. Only objects whose (etag, last_modified, size) changed are copied.
        """
        if bucket is None:
            with self._lock:
                indexed = {name for (name,) in self._db.execute("SELECT name FROM buckets")}
            for name in sorted(set(self.backend.buckets) | indexed):
                self._sync_bucket(name)
            return
        # A key neither moto nor the index has: our reading of the request's key may differ
        # from moto's (encodings) - look at the whole bucket rather than miss the change; and
        # at every bucket if the bucket is unknown too.
        synced = key is not None and self._sync_key(bucket, key)
        if not synced and not self._sync_bucket(bucket):
            self.sync(None)

    def _sync_bucket(self, name: str) -> bool:
        """Returns False if neither moto nor the index knows the bucket."""
        with self._lock:  # moto's state read under the lock: the last sync sees the last change
            fake_bucket = self.backend.buckets.get(name)
            if fake_bucket is None:
                return self._forget_bucket(name)
            self._save_bucket_row(fake_bucket)
            indexed = self._rows(name)
        current = _current_keys(fake_bucket)
        for key_name in indexed.keys() - current.keys():
            self._forget_object(name, key_name)
        for key_name, key in current.items():
            self._save_object(name, key_name, key, indexed.get(key_name))
        return True

    def _sync_key(self, bucket_name: str, key_name: str) -> bool:
        """Returns False if neither moto nor the index knows the bucket or the key."""
        with self._lock:
            fake_bucket = self.backend.buckets.get(bucket_name)
            if fake_bucket is None:
                return False
            key = _latest_key(fake_bucket, key_name)
            self._save_bucket_row(fake_bucket)
            row = self._row(bucket_name, key_name)
        if key is None and row is None:
            return False
        if key is None:
            self._forget_object(bucket_name, key_name)
        else:
            self._save_object(bucket_name, key_name, key, row)
        return True

    def _save_object(self, bucket_name: str, key_name: str, key: FakeKey, row: _Row | None) -> None:
        try:
            etag = key.etag.strip('"')  # computed from the bytes if moto has not yet
        except ValueError:  # disposed: replaced meanwhile, and that write syncs after itself
            return
        signature = (etag, key.last_modified.isoformat(), key.size)
        if row is not None and row.signature == signature:
            # Same bytes; attributes may have changed (PutObjectTagging). Attributes are read
            # under the lock, so a slower sync cannot commit older ones over newer ones.
            with self._lock:
                attrs = self._object_attrs(key)
                if row.attrs != attrs and self._is_current(bucket_name, key_name, key):
                    with self._db:
                        self._db.execute(
                            "UPDATE objects SET attrs = ? WHERE bucket = ? AND key = ?",
                            (attrs, bucket_name, key_name),
                        )
            return
        # The copy runs outside the lock: a big object must not hold up other requests.
        written = self._write_temporary_blob(key)
        if written is None:  # disposed: a newer write replaced it, and syncs after itself
            return
        blob, temporary = written
        with self._lock:
            # Only the object moto holds *now* may be recorded; an older sync finishing late
            # must not overwrite a newer one's row.
            if not self._is_current(bucket_name, key_name, key):
                temporary.unlink(missing_ok=True)
                return
            self._place_blob(blob, temporary)
            previous = self._row(bucket_name, key_name)
            attrs = self._object_attrs(key)
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects"
                    " (bucket, key, blob, size, etag, last_modified, attrs)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (bucket_name, key_name, blob, key.size, *signature[:2], attrs),
                )
            if previous is not None and previous.blob != blob:
                self._drop_blob_if_unused(previous.blob)

    def _forget_object(self, bucket_name: str, key_name: str) -> None:
        with self._lock:
            fake_bucket = self.backend.buckets.get(bucket_name)
            if fake_bucket is not None and _latest_key(fake_bucket, key_name) is not None:
                return  # written again meanwhile; that write's sync records it
            row = self._row(bucket_name, key_name)
            if row is None:
                return
            with self._db:
                self._db.execute(
                    "DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket_name, key_name)
                )
            self._drop_blob_if_unused(row.blob)

    def _forget_bucket(self, name: str) -> bool:
        """Called under the lock. S3 deletes only empty buckets, but drop any rows left."""
        if self._db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
            return False
        blobs = [
            b for (b,) in self._db.execute("SELECT blob FROM objects WHERE bucket = ?", (name,))
        ]
        with self._db:
            self._db.execute("DELETE FROM objects WHERE bucket = ?", (name,))
            self._db.execute("DELETE FROM buckets WHERE name = ?", (name,))
        for blob in set(blobs):
            self._drop_blob_if_unused(blob)
        return True

    def _save_bucket_row(self, bucket: FakeBucket) -> None:
        """Called under the lock: insert or update the bucket's row if it changed."""
        backend = self.backend
        policy = bucket.policy
        attrs = _json(
            {
                "versioning_status": bucket.versioning_status,
                "policy": policy.decode() if isinstance(policy, bytes) else policy,
                "encryption": bucket.encryption,
                "tags": backend.tagger.get_tag_dict_for_resource(bucket.arn),
            }
        )
        values = (bucket.region_name, bucket.creation_date.isoformat(), attrs)
        existing = self._db.execute(
            "SELECT region, created, attrs FROM buckets WHERE name = ?", (bucket.name,)
        ).fetchone()
        if existing != values:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO buckets (name, region, created, attrs)"
                    " VALUES (?, ?, ?, ?)",
                    (bucket.name, *values),
                )

    def _object_attrs(self, key: FakeKey) -> str:
        return _json(
            {
                "metadata": dict(key.metadata.items()),
                "storage_class": key.storage_class,
                "version_id": key._version_id,
                "is_versioned": key._is_versioned,
                "checksum_algorithm": key.checksum_algorithm,
                "checksum_value": key.checksum_value,
                "checksum_type": key.checksum_type,
                "checksum_parts": key.checksum_parts,
                "encryption": key.encryption,
                "kms_key_id": key.kms_key_id,
                "bucket_key_enabled": key.bucket_key_enabled,
                "website_redirect_location": key.website_redirect_location,
                "lock_mode": key.lock_mode,
                "lock_legal_status": key.lock_legal_status,
                "lock_until": key.lock_until,
                "tags": self.backend.tagger.get_tag_dict_for_resource(key.arn),
            }
        )

    def _is_current(self, bucket_name: str, key_name: str, key: FakeKey) -> bool:
        fake_bucket = self.backend.buckets.get(bucket_name)
        return fake_bucket is not None and _latest_key(fake_bucket, key_name) is key

    def _row(self, bucket_name: str, key_name: str) -> _Row | None:
        found = self._db.execute(
            "SELECT blob, size, etag, last_modified, attrs FROM objects"
            " WHERE bucket = ? AND key = ?",
            (bucket_name, key_name),
        ).fetchone()
        return _Row(*found) if found else None

    def _rows(self, bucket_name: str) -> dict[str, _Row]:
        cursor = self._db.execute(
            "SELECT key, blob, size, etag, last_modified, attrs FROM objects WHERE bucket = ?",
            (bucket_name,),
        )
        return {key: _Row(*rest) for key, *rest in cursor}

    # --- blob files ------------------------------------------------------------------------------
    def _blob_path(self, blob: str) -> Path:
        if not _BLOB_NAME.match(blob):  # the index is ours, but never build a path from junk
            raise ValueError(f"not a blob name: {blob!r}")
        return self.objects_dir / blob[:2] / blob

    def _write_temporary_blob(self, key: FakeKey) -> tuple[str, Path] | None:
        """Copy the key's bytes to a fsynced temporary file; returns (sha256, path)."""
        source = _snapshot(key)
        if source is None:
            return None
        temporary = self.objects_dir / f".tmp-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        written = 0
        try:
            chunks = [source] if isinstance(source, bytes) else source.read(0, source.size)
            with temporary.open("wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != key.size:
                raise OSError(f"copied {written} of {key.size} bytes of {key.name!r}")
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        finally:
            if isinstance(source, _FileSource):
                source.close()
        return digest.hexdigest(), temporary

    def _place_blob(self, blob: str, temporary: Path) -> None:
        """Called under the lock: rename the temporary file to its content's name, durably."""
        final = self._blob_path(blob)
        if final.exists():  # same bytes already stored (another key, or an earlier write)
            temporary.unlink(missing_ok=True)
            return
        if not final.parent.is_dir():
            final.parent.mkdir()
            _fsync_dir(self.objects_dir)
        os.replace(temporary, final)
        _fsync_dir(final.parent)

    def _drop_blob_if_unused(self, blob: str) -> None:
        """Called under the lock, after the commit that stopped referencing ``blob``."""
        used = self._db.execute("SELECT 1 FROM objects WHERE blob = ? LIMIT 1", (blob,))
        if used.fetchone() is None:
            self._blob_path(blob).unlink(missing_ok=True)

    # --- WSGI ------------------------------------------------------------------------------------
    def handle(self, moto_app: Any, environ: dict[str, Any], start_response: StartResponse) -> Any:
        """Run ``moto_app`` on the request; for a mutating S3 request that succeeded, sync the
        mirror before the response reaches the client (so what is acknowledged is durable).
        Only mutating responses are held back (they are small XML); GET bodies stream."""
        target = s3_mutation_target(environ, moto_app)
        if target is None:
            return moto_app(environ, start_response)
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return written.append

        result = moto_app(environ, capture)
        try:
            body = b"".join([*written, *result])
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = captured["status"], captured["headers"]
        if status.startswith("2"):
            try:
                self.sync(*target)
            except Exception as exc:  # not durable: don't acknowledge it
                log.exception("S3 persistence failed after %s", environ.get("PATH_INFO"))
                message = f"The emulator could not persist the change: {exc}"
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
                    f"<Message>{_xml_escape(message)}</Message></Error>"
                ).encode()
                status = "500 Internal Server Error"
                headers = [
                    ("Content-Type", "application/xml"),
                    ("Content-Length", str(len(body))),
                ]
        start_response(status, headers, captured.get("exc_info"))
        return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _current_keys(bucket: FakeBucket) -> dict[str, FakeKey]:
    """The bucket's current objects (the latest version, unless it is a delete marker)."""
    return {name: key for name, key in bucket.keys.items() if isinstance(key, FakeKey)}


def _latest_key(bucket: FakeBucket, key_name: str) -> FakeKey | None:
    key = bucket.keys.get(key_name)
    return key if isinstance(key, FakeKey) else None


def _reset_backend(backend: S3Backend) -> None:
    """Empty one account's S3 backend. Not ``S3Backend.reset()``: that also disposes every
    FakeKey the process ever created (all accounts - e.g. another in-process emulator's)."""
    for bucket in list(backend.buckets.values()):
        for versions in bucket.keys.lists():
            for version in versions:
                if isinstance(version, FakeKey):
                    version.dispose()
        for multipart in bucket.multiparts.values():
            multipart.dispose()
        s3_backends.bucket_accounts.pop(bucket.name, None)
    region_name, account_id = backend.region_name, backend.account_id
    backend.__dict__ = {}
    backend.__init__(region_name, account_id)  # type: ignore[misc]  # what BaseBackend.reset does


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _configure_process(tmp_dir: Path) -> None:
    """Process-wide settings for moto's object buffers (see the module docstring).

    The temporary files go to the data dir's disk, not /tmp (often a small tmpfs, i.e. RAM).
    Every object bigger than the spool size holds a descriptor, so the soft limit on open
    files (often 1024) is raised towards the hard one: a few thousand objects must not exhaust
    it. Capped at 65536: job processes inherit it, and some programs loop over every possible
    descriptor."""
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(KEY_BUFFER_SIZE))
    tempfile.tempdir = str(tmp_dir)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d", soft)


# --- which requests change S3 --------------------------------------------------------------------
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def s3_mutation_target(
    environ: dict[str, Any], moto_app: Any = None
) -> tuple[str, str | None] | None:
    """``(bucket, key or None)`` if the request may change S3 state, else None.

    S3 is recognised by the SigV4 credential scope (Authorization header, or a presigned
    URL's X-Amz-Credential); a request with neither (unsigned, SigV2, a browser POST upload)
    is S3 if moto's dispatcher sends it to S3. Bucket and key are read from the URL with
    moto's own functions (path-style ``/bucket/key``, or virtual-host ``bucket.localhost``).
    Creating a multipart upload, uploading or aborting a part change no object: skipped.
    """
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method in _READ_METHODS:
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    service = signing_service(environ, query)
    if service is None and moto_app is not None:
        service = getattr(moto_app.get_application(environ), "service", None)
    if service != "s3":
        return None
    if (method == "POST" and "uploads" in query) or (
        method in ("PUT", "DELETE") and "uploadId" in query
    ):
        return None
    request = MotoRequest(environ, populate_request=False)
    url = request.raw_url
    path = unquote(request.raw_path)
    if S3Response.subdomain_based_buckets(request):
        bucket = bucket_name_from_url(url)
        key = path[1:] if path.startswith("/") else path
    else:
        bucket = path_style_bucket_name(url)
        key = path_style_key_name(path)
    if not bucket:
        return None  # ListBuckets etc.: nothing to persist
    return bucket, key or None
