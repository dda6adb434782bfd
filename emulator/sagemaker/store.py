"""Thread-safe in-memory records of SageMaker resources, unique by name per resource type."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from emulator.sagemaker.errors import ResourceInUse, SageMakerError, ValidationError


class Store:
    """Resource records keyed by (kind, name). A record is a plain dict shaped like Describe*.

    Records are mutated only under ``lock`` (via ``update``), so a Describe never sees a half
    written status change.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {}

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
            return record

    def get(self, kind: str, name: str, *, missing_message: str | None = None) -> dict[str, Any]:
        """The record, or ValidationException "Could not find ..." like AWS."""
        with self.lock:
            record = self._records.get(kind, {}).get(name)
            if record is None:
                raise ValidationError(missing_message or f"Could not find {kind} '{name}'.")
            return record

    def snapshot(self, kind: str, name: str, *, missing_message: str | None = None) -> dict:
        """A deep copy of the record, safe to serialise while jobs keep updating it."""
        with self.lock:
            return copy.deepcopy(self.get(kind, name, missing_message=missing_message))

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self._records.get(kind, {}).get(name)

    def update(self, kind: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``change`` to the record atomically."""
        with self.lock:
            change(self._records[kind][name])

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self._records.get(kind, {}).pop(name, None)

    def all(self, kind: str) -> list[dict[str, Any]]:
        """A snapshot of every record of ``kind`` in creation order."""
        with self.lock:
            return list(self._records.get(kind, {}).values())


class TagStore:
    """Tags by resource ARN, as AddTags / ListTags / DeleteTags see them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}

    def set(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            self._tags[arn] = {tag["Key"]: tag.get("Value", "") for tag in tags}

    def add(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            self._tags.setdefault(arn, {}).update({t["Key"]: t.get("Value", "") for t in tags})

    def remove(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._tags.get(arn, {}).pop(key, None)

    def get(self, arn: str) -> list[dict[str, str]]:
        with self._lock:
            return [{"Key": k, "Value": v} for k, v in self._tags.get(arn, {}).items()]
