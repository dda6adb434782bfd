"""SageMaker resource records, unique by name per resource type, kept in SQLite.

Records live in memory as plain dicts shaped like the Describe* responses (handlers read and
change them under ``Store.lock``) and every change is written through to an SQLite database under
the emulator's data dir before the lock is released, so an acknowledged request survives a
crash or SIGKILL. The database runs in WAL mode: a commit is one append, cheap enough to take
on every change.

How changes are caught: ``create``, ``update`` and ``delete`` write when the lock is let go;
``get`` and ``find`` hand out the live record, so the record is remembered as touched by the
calling thread and written, if its JSON changed, when the outermost ``with store.lock`` block
ends and again at ``flush_thread()``, which the engine calls at the end of every request, so a
handler's change is on disk before its answer leaves. ``close()`` writes everything.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.sagemaker.errors import ResourceInUse, SageMakerError, ValidationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, name)
)
"""
TAGS_KIND = "_Tags"


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1:
        if "$datetime" in mapping:
            return dt.datetime.fromisoformat(mapping["$datetime"])
        if "$bytes" in mapping:
            return base64.b64decode(mapping["$bytes"])
    return mapping


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_encode, sort_keys=True)


def loads(text: str) -> dict[str, Any]:
    return json.loads(text, object_hook=_decode)


class FlushingLock:
    """A re-entrant lock that writes touched records when its outermost holder lets go."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._depth = threading.local()
        self._flush = flush

    def __enter__(self) -> FlushingLock:
        self._lock.acquire()
        self._depth.value = getattr(self._depth, "value", 0) + 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth.value -= 1
        try:
            if self._depth.value == 0:
                self._flush()
        finally:
            self._lock.release()


class Store:
    """Resource records keyed by (kind, name); ``database=None`` keeps them in memory only."""

    def __init__(self, database: Path | None = None) -> None:
        self.lock = FlushingLock(self._flush_locked)
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._written: dict[tuple[str, str], str] = {}  # what the database holds, as JSON
        self._touched: set[tuple[str, str]] = set()
        self._thread_touched = threading.local()
        self._seq = 0
        self._db: sqlite3.Connection | None = None
        if database is not None:
            self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
            # WAL: a commit appends to the log; synchronous=NORMAL keeps every commit across
            # a process crash (SIGKILL), which is what a local service needs.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        rows = self._db.execute("SELECT kind, name, seq, body FROM records ORDER BY seq")
        for kind, name, seq, body in rows:
            self._records.setdefault(kind, {})[name] = loads(body)
            self._written[(kind, name)] = body
            self._seq = max(self._seq, seq)

    # --- writing through ----------------------------------------------------------------
    def _write(self, keys: set[tuple[str, str]]) -> None:
        """Write the records at ``keys`` whose JSON changed; delete those that are gone."""
        upserts: list[tuple[str, str, int, str]] = []
        deletes: list[tuple[str, str]] = []
        for kind, name in keys:
            record = self._records.get(kind, {}).get(name)
            if record is None:
                if self._written.pop((kind, name), None) is not None:
                    deletes.append((kind, name))
                continue
            body = dumps(record)
            if self._written.get((kind, name)) != body:
                if (kind, name) not in self._written:
                    self._seq += 1
                    seq = self._seq
                else:
                    seq = -1  # keep the creation order it has
                self._written[(kind, name)] = body
                upserts.append((kind, name, seq, body))
        if self._db is None or not (upserts or deletes):
            return
        with self._db:
            self._db.execute("BEGIN")
            for kind, name, seq, body in upserts:
                self._db.execute(
                    "INSERT INTO records (kind, name, seq, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body",
                    (kind, name, seq, body),
                )
            self._db.executemany("DELETE FROM records WHERE kind = ? AND name = ?", deletes)

    def _flush_locked(self) -> None:
        touched, self._touched = self._touched, set()
        self._write(touched)

    def _touch(self, kind: str, name: str) -> None:
        self._touched.add((kind, name))
        keys = getattr(self._thread_touched, "keys", None)
        if keys is None:
            keys = self._thread_touched.keys = set()
        keys.add((kind, name))

    def flush_thread(self) -> None:
        """Write what this thread touched since its last call (the end of a request)."""
        keys = getattr(self._thread_touched, "keys", None) or set()
        self._thread_touched.keys = set()
        with self.lock:
            self._touched.update(keys)

    def close(self) -> None:
        """Write every record that differs from the database, then close it."""
        with self.lock:
            self._touched.update(
                (kind, name) for kind, table in self._records.items() for name in table
            )
            self._touched.update(self._written.keys())
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- records ------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        name: str,
        record: dict[str, Any],
        *,
        duplicate_error: type[SageMakerError] = ResourceInUse,
        duplicate_message: str | None = None,
    ) -> dict[str, Any]:
        """Insert a new record; a name already taken raises ``duplicate_error`` as AWS does."""
        with self.lock:
            table = self._records.setdefault(kind, {})
            if name in table:
                raise duplicate_error(duplicate_message or f"{kind} {name} already exists.")
            table[name] = record
            self._touch(kind, name)
            return record

    def get(self, kind: str, name: str, *, missing_message: str | None = None) -> dict[str, Any]:
        """The record, or ValidationException "Could not find ..." like AWS."""
        with self.lock:
            record = self._records.get(kind, {}).get(name)
            if record is None:
                raise ValidationError(missing_message or f"Could not find {kind} '{name}'.")
            self._touch(kind, name)
            return record

    def snapshot(self, kind: str, name: str, *, missing_message: str | None = None) -> dict:
        """A deep copy of the record, safe to serialise while jobs keep updating it."""
        with self.lock:
            record = self._records.get(kind, {}).get(name)
            if record is None:
                raise ValidationError(missing_message or f"Could not find {kind} '{name}'.")
            return copy.deepcopy(record)

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            record = self._records.get(kind, {}).get(name)
            if record is not None:
                self._touch(kind, name)
            return record

    def update(self, kind: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``change`` to the record atomically."""
        with self.lock:
            change(self._records[kind][name])
            self._touch(kind, name)

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            self._touch(kind, name)
            return self._records.get(kind, {}).pop(name, None)

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every record of ``kind`` in creation order (live records: read, don't change)."""
        with self.lock:
            return list(self._records.get(kind, {}).values())


class TagStore:
    """Tags by resource ARN, as AddTags / ListTags / DeleteTags see them, kept in the Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _tags(self, arn: str) -> dict[str, str]:
        record = self._store.find(TAGS_KIND, arn)
        if record is None:
            record = self._store.create(TAGS_KIND, arn, {"Tags": {}})
        return record["Tags"]

    def set(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._store.lock:
            current = self._tags(arn)
            current.clear()
            current.update({tag["Key"]: tag.get("Value", "") for tag in tags})

    def add(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._store.lock:
            self._tags(arn).update({t["Key"]: t.get("Value", "") for t in tags})

    def remove(self, arn: str, keys: list[str]) -> None:
        with self._store.lock:
            current = self._tags(arn)
            for key in keys:
                current.pop(key, None)

    def get(self, arn: str) -> list[dict[str, str]]:
        with self._store.lock:
            record = self._store.find(TAGS_KIND, arn)
            tags = record["Tags"] if record else {}
            return [{"Key": k, "Value": v} for k, v in tags.items()]
