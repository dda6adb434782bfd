"""Deployment settings: Airflow Variables, read once per run by the ``prepare_run`` task.

Each setting is the Airflow Variable ``adult_pipeline_<setting>``; Airflow's environment
secrets backend also reads it from ``AIRFLOW_VAR_ADULT_PIPELINE_<SETTING>``.

| setting             | default      |
| ------------------- | ------------ |
| bucket              | (required)   |
| role_arn            | (required)   |
| prefix              | adult-income |
| region              | us-east-1    |
| aws_conn_id         | aws_default  |
| poll_seconds        | 30           |
| stream_training_log | true         |

Nothing here reads a Variable: ``prepare_run``'s ``op_kwargs`` are Jinja templates
(``{{ var.value.get(...) }}``, see ``templated``), so Airflow looks each one up through its own
secrets backends (``AIRFLOW_VAR_*`` environment variables first, then the metadata database)
when that one task renders, and the UI's Rendered Template tab shows the values the run took.
Every later task reads them from the run's plan (prepare_run's XCom), so changing a Variable
mid-run changes nothing in that run. No account id lives in code: the bucket and the SageMaker
execution role must be configured.

What Airflow needs while it parses the DAG files is Airflow's own configuration, not a
Variable: ``[operators] default_deferrable`` (``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE``) and
``[core] default_task_retry_delay`` (``AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

VARIABLE_PREFIX = "adult_pipeline_"
REQUIRED = ("bucket", "role_arn")
DEFAULTS = {
    "prefix": "adult-income",
    "region": "us-east-1",
    "aws_conn_id": "aws_default",
    "poll_seconds": "30",
    # The training job's log in the task log; the provider then re-describes the job only
    # every 30 s, which is why offline runs switch it off.
    "stream_training_log": "true",
}
NAMES = (*REQUIRED, *DEFAULTS)
# Read by earlier versions of this project; now only named in an error, never read.
LEGACY_ENV_PREFIX = "ADULT_PIPELINE_"


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def variable_key(name: str) -> str:
    return VARIABLE_PREFIX + name


def environment_variable(name: str) -> str:
    """The name Airflow's environment-variables secrets backend reads the Variable from."""
    return "AIRFLOW_VAR_" + variable_key(name).upper()


def templated() -> dict[str, str]:
    """Each setting as a Jinja template over its Airflow Variable (the default when unset)."""
    return {
        name: f"{{{{ var.value.get({variable_key(name)!r}, {DEFAULTS.get(name, '')!r}) }}}}"
        for name in NAMES
    }


def as_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected a boolean, got {text!r}")


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    region: str
    role_arn: str
    aws_conn_id: str
    poll_seconds: int
    stream_training_log: bool

    @property
    def root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(name: str) -> str:
    return f"Variable {variable_key(name)} (or {environment_variable(name)})"


def from_variables(values: Mapping[str, Any]) -> Settings:
    """The settings from their rendered Variables; raises SettingsError naming what is wrong."""
    text = {name: str(values.get(name) or "").strip() for name in NAMES}
    missing = [name for name in REQUIRED if not text[name]]
    if missing:
        message = "missing setting(s): " + ", ".join(describe(name) for name in missing)
        legacy = [
            LEGACY_ENV_PREFIX + n.upper()
            for n in missing
            if LEGACY_ENV_PREFIX + n.upper() in os.environ
        ]
        if legacy:
            message += (
                f"; {', '.join(legacy)} is set but no longer read: settings are Airflow "
                "Variables now (rename it with the AIRFLOW_VAR_ prefix)"
            )
        raise SettingsError(message)
    for name in DEFAULTS:
        text[name] = text[name] or DEFAULTS[name]
    try:
        poll_seconds = int(text["poll_seconds"])
    except ValueError as exc:
        raise SettingsError(f"malformed {describe('poll_seconds')}: {exc}") from exc
    try:
        stream = as_bool(text["stream_training_log"])
    except SettingsError as exc:
        raise SettingsError(f"malformed {describe('stream_training_log')}: {exc}") from exc
    return Settings(
        bucket=text["bucket"],
        prefix=text["prefix"],
        region=text["region"],
        role_arn=text["role_arn"],
        aws_conn_id=text["aws_conn_id"],
        poll_seconds=max(1, poll_seconds),  # never a busy loop
        stream_training_log=stream,
    )


def from_plan(plan: Mapping[str, Any]) -> Settings:
    """The settings a run took, as its plan recorded them."""
    return Settings(**plan["settings"])
