"""Deterministic names and S3 paths from (dag_id, run_id, task_id).

A retried, cleared or re-run task computes the same name and so finds its own earlier job,
model or package; two runs (two logical dates) never share a name or a path. SageMaker names
allow 63 characters of ``[a-zA-Z0-9-]``: a readable prefix plus a hash of the full identity.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
HASH_CHARS = 10
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()


def identity_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:HASH_CHARS]


def resource_name(dag_id: str, run_id: str, task_id: str, attempt: int = 1) -> str:
    """``<task>-<date>-<hash>[-aN]`` within 63 chars, unique per (dag, run, task, attempt)."""
    suffix = f"-a{attempt}" if attempt > 1 else ""
    digest = identity_hash(dag_id, run_id, task_id)
    date = re.search(r"\d{4}-?\d{2}-?\d{2}", run_id)
    stamp = date.group(0).replace("-", "") if date else ""
    readable = slug(task_id)
    budget = MAX_NAME - len(digest) - len(suffix) - (len(stamp) + 1 if stamp else 0) - 1
    head = readable[:budget].strip("-") or "job"
    parts = [head, stamp, digest] if stamp else [head, digest]
    name = "-".join(parts) + suffix
    assert NAME_PATTERN.match(name), name
    return name


def run_path(dag_id: str, run_id: str) -> str:
    """The run's folder below the settings' prefix: readable and unique per run."""
    return f"runs/{slug(dag_id)}/{slug(run_id)[:80]}-{identity_hash(dag_id, run_id)}"
