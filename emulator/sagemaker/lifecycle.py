"""The lifecycle every SageMaker resource shares, declared once per resource as a ``Resource``.

A resource module says what is particular to its resource (store kind, name and ARN members,
the messages AWS answers for a missing or a taken name, its List* summary) in one ``Resource``,
and its handlers call it:

- ``new`` and ``create``: a record with its ARN and creation (and last-modified) time, unique by
  name as AWS keeps it (the duplicate's error and message are the resource's), its tags set;
- ``get`` / ``describe`` / ``delete``: by the name or ARN the request gives, a missing one
  answered with the resource's own error and message;
- ``list``: a List* answer with the filters every List* shares (listing.py: NameContains,
  CreationTime*/CreatedAfter..., SortBy/SortOrder, NextToken/MaxResults).

What only one resource does (a model resolving its packages, an endpoint starting workers, a
job running) stays in its module, around these calls.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.sagemaker.errors import ResourceInUse, SageMakerError, ValidationError
from emulator.sagemaker.listing import created_window, list_response
from emulator.sagemaker.registry import action
from emulator.sagemaker.response_defaults import filled

if TYPE_CHECKING:
    from emulator.sagemaker.engine import Engine


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a record without the emulator's own keys (those that start with ``_``)."""
    return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}


def as_given(name_or_arn: str) -> str:
    return name_or_arn


def hosting_errors(noun: str) -> dict[str, Any]:
    """How SageMaker words a missing or a taken model, endpoint configuration or endpoint."""
    return {
        "missing": f'Could not find {noun} "{{name}}".',
        "duplicate": f'Cannot create already existing {noun} "{{arn}}".',
        "duplicate_error": ValidationError,
    }


@dataclass(frozen=True)
class Resource:
    """How one kind of SageMaker resource is recorded, found, described, deleted and listed."""

    kind: str  # the store's kind, e.g. "EndpointConfig"
    # What AWS answers for a name it does not know; ``{name}`` is what the request gave and
    # ``{arn}`` the ARN of that name.
    missing: str
    # The members that hold the name and the ARN, and the ARN's resource type; by default
    # the kind's: EndpointConfigName, EndpointConfigArn, arn:aws:sagemaker:...:endpoint-config/.
    name_key: str = ""
    arn_key: str = ""
    arn_type: str = ""
    missing_error: type[SageMakerError] = ValidationError
    # What AWS answers for a name already taken (``{name}``, ``{arn}``); None: the store's.
    duplicate: str | None = None
    duplicate_error: type[SageMakerError] = ResourceInUse
    # The store key of a name or ARN a request gives (names matched without case, ARNs...).
    key: Callable[[str], str] = as_given
    list_key: str = ""  # default: "<kind>Summaries"
    summary_keys: tuple[str, ...] = ()
    status_key: str | None = None
    # List* names the creation window CreatedAfter / CreatedBefore (lineage, pipelines).
    created_window: bool = False
    # Records carry LastModifiedTime (a model or endpoint configuration has none).
    modified: bool = True
    # The members Describe* fills in when the request left them out (response_defaults.py).
    described_defaults: dict[str, Any] | None = None
    # Members the record keeps for the emulator that Describe* does not answer.
    hidden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        defaults = {
            "name_key": f"{self.kind}Name",
            "arn_key": f"{self.kind}Arn",
            "arn_type": re.sub(r"(?<!^)(?=[A-Z])", "-", self.kind).lower(),
            "list_key": f"{self.kind}Summaries",
        }
        for member, default in defaults.items():
            if not getattr(self, member):
                object.__setattr__(self, member, default)  # frozen: set once, here

    def arn(self, engine: Engine, name: str) -> str:
        return engine.arn(self.arn_type, name)

    def new(
        self, arn: str, members: dict[str, Any], created: dt.datetime | None = None
    ) -> dict[str, Any]:
        """A record of ``members`` with its ARN and creation (and last-modified) time."""
        moment = created or now()
        record = {**members, self.arn_key: arn, "CreationTime": moment}
        if self.modified:
            record["LastModifiedTime"] = moment
        record.pop("Tags", None)  # tags live in the TagStore, by ARN
        return record

    def create(
        self,
        engine: Engine,
        record: dict[str, Any],
        tags: list[dict[str, str]] | None = None,
        *,
        key: str | None = None,
    ) -> str:
        """Store a new record (its name unique, as AWS keeps it), tag it; returns its ARN."""
        arn = record[self.arn_key]
        name = record.get(self.name_key, arn)
        message = self.duplicate.format(name=name, arn=arn) if self.duplicate else None
        engine.store.create(
            self.kind,
            self.key(name) if key is None else key,
            record,
            duplicate_error=self.duplicate_error,
            duplicate_message=message,
        )
        engine.tags.set(arn, tags or [])
        return arn

    def key_for(self, engine: Engine, name_or_arn: str) -> str | None:
        """The store key of what a request names; None: nothing this resource can be."""
        return self.key(name_or_arn)

    def get(self, engine: Engine, name_or_arn: str) -> dict[str, Any]:
        """The live record (read and change it under ``engine.store.lock``)."""
        with engine.store.lock:
            key = self.key_for(engine, name_or_arn)
            record = engine.store.find(self.kind, key) if key is not None else None
            if record is None:
                arn = self.arn(engine, key or name_or_arn)
                raise self.missing_error(self.missing.format(name=name_or_arn, arn=arn))
            return record

    def describe(self, engine: Engine, name_or_arn: str) -> dict[str, Any]:
        """The Describe* answer: a copy without the emulator's keys, laid over the members the
        service fills in."""
        with engine.store.lock:
            answer = public(self.get(engine, name_or_arn))
        for member in self.hidden:
            answer.pop(member, None)
        return filled(answer, self.described_defaults) if self.described_defaults else answer

    def delete(
        self,
        engine: Engine,
        name_or_arn: str,
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Delete the record (after ``check``, which may refuse); returns what it held."""
        with engine.store.lock:
            record = self.get(engine, name_or_arn)
            if check is not None:
                check(record)
            engine.store.delete(self.kind, self.key_for(engine, name_or_arn))  # type: ignore[arg-type]
            return record

    def list(
        self, engine: Engine, params: dict[str, Any], records: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The List* answer over ``records`` (default: all of this kind) with the shared
        filters, sorting and pagination."""
        return list_response(
            engine.store.all(self.kind) if records is None else records,
            created_window(params) if self.created_window else params,
            list_key=self.list_key,
            summary_keys=self.summary_keys,
            name_key=self.name_key,
            status_key=self.status_key,
        )

    # --- the operations a resource serves as they are ---------------------------------------
    @property
    def request_key(self) -> str:
        """The request member that names the resource (DescribeModel's ModelName)."""
        return self.name_key

    def describe_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        return self.describe(engine, params[self.request_key])

    def list_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        return self.list(engine, params)

    def delete_request(self, engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
        self.delete(engine, params[self.request_key])
        return {}

    def register(self, *actions: str) -> None:
        """Serve each SageMaker action named (``"DescribeModel"``, ``"ListModels"``) with this
        lifecycle's request of its verb, for a resource whose action does nothing more."""
        for name in actions:
            verb = re.match(r"[A-Z][a-z]+", name)
            assert verb is not None, name
            action(name)(getattr(self, f"{verb[0].lower()}_request"))
