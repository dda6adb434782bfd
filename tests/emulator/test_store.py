"""Records written through to SQLite: what a handler changes is there after a reopen."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from emulator.sagemaker.errors import ResourceInUse, ValidationError
from emulator.sagemaker.store import Store, TagStore


def reopened(path: Path, store: Store) -> Store:
    """A second Store on the same database file, without closing the first (like a crash)."""
    del store  # the first is simply abandoned: nothing is flushed on its way out
    return Store(path)


def test_created_records_survive_with_their_types_and_order(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    created = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    for name in ("b-job", "a-job", "c-job"):
        store.create("TrainingJob", name, {"Name": name, "CreationTime": created, "N": 1.5})
    store.create("Model", "m", {"ModelName": "m", "Blob": b"\x00\x01"})

    again = reopened(path, store)
    assert [r["Name"] for r in again.all("TrainingJob")] == ["b-job", "a-job", "c-job"]
    record = again.get("TrainingJob", "a-job")
    assert record["CreationTime"] == created and record["N"] == 1.5
    assert again.get("Model", "m")["Blob"] == b"\x00\x01"
    with pytest.raises(ResourceInUse):
        again.create("Model", "m", {})


def test_update_and_delete_are_written(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    store.create("Endpoint", "e", {"EndpointStatus": "Creating"})
    store.create("Endpoint", "gone", {"EndpointStatus": "InService"})
    store.update("Endpoint", "e", lambda r: r.update(EndpointStatus="InService"))
    store.delete("Endpoint", "gone")

    again = reopened(path, store)
    assert again.get("Endpoint", "e")["EndpointStatus"] == "InService"
    with pytest.raises(ValidationError):
        again.get("Endpoint", "gone")
    # A deleted name can be created again, and comes last in creation order.
    again.create("Endpoint", "gone", {"EndpointStatus": "Creating"})
    assert [r["EndpointStatus"] for r in Store(path).all("Endpoint")] == ["InService", "Creating"]


def test_change_under_the_lock_is_written_when_the_lock_is_released(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    store.create("Endpoint", "e", {"EndpointStatus": "Creating"})
    with store.lock:
        store.find("Endpoint", "e")["EndpointStatus"] = "Updating"
        # Not yet: the outermost holder has not let go.
        assert Store(path).get("Endpoint", "e")["EndpointStatus"] == "Creating"
    assert Store(path).get("Endpoint", "e")["EndpointStatus"] == "Updating"


def test_change_after_get_is_written_at_the_end_of_the_request(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    store.create("ModelPackage", "p", {"ModelApprovalStatus": "PendingManualApproval"})

    def handler() -> None:  # changes the live record outside any lock, as a handler may
        store.get("ModelPackage", "p")["ModelApprovalStatus"] = "Approved"
        store.flush_thread()  # what Engine.handle does before answering

    thread = threading.Thread(target=handler)
    thread.start()
    thread.join()
    assert Store(path).get("ModelPackage", "p")["ModelApprovalStatus"] == "Approved"


def test_tags_are_kept_with_the_records(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    tags = TagStore(store)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    tags.set(arn, [{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "dev"}])
    tags.add(arn, [{"Key": "stage", "Value": "prod"}])
    tags.remove(arn, ["team"])

    assert TagStore(reopened(path, store)).get(arn) == [{"Key": "stage", "Value": "prod"}]


def test_unchanged_records_are_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = Store(path)
    store.create("Model", "m", {"ModelName": "m"})
    with store.lock:
        store.find("Model", "m")
    changes_before = store._db.total_changes  # type: ignore[union-attr]
    with store.lock:
        store.find("Model", "m")
    assert store._db.total_changes == changes_before  # type: ignore[union-attr]
