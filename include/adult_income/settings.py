"""Deployment settings, read at task run time from the environment or Airflow Variables.

| setting        | environment variable          | Airflow Variable              | default         |
| -------------- | ----------------------------- | ----------------------------- | --------------- |
| bucket         | ADULT_PIPELINE_BUCKET         | adult_pipeline_bucket         | (required)      |
| prefix         | ADULT_PIPELINE_PREFIX         | adult_pipeline_prefix         | adult-income    |
| region         | ADULT_PIPELINE_REGION         | adult_pipeline_region         | us-east-1       |
| role_arn       | ADULT_PIPELINE_ROLE_ARN       | adult_pipeline_role_arn       | (required)      |
| aws_conn_id    | ADULT_PIPELINE_AWS_CONN_ID    | adult_pipeline_aws_conn_id    | aws_default     |
| poll_seconds   | ADULT_PIPELINE_POLL_SECONDS   | adult_pipeline_poll_seconds   | 30              |
| deferrable     | ADULT_PIPELINE_DEFERRABLE     | adult_pipeline_deferrable     | false           |
| max_wait_hours | ADULT_PIPELINE_MAX_WAIT_HOURS | adult_pipeline_max_wait_hours | 6               |

The environment wins over Variables so that a deployment (or `make run`) can pin a value
without touching the metadata database. No account id lives in code: the bucket and the
SageMaker execution role must be configured.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

ENV_PREFIX = "ADULT_PIPELINE_"
DEFAULTS = {
    "prefix": "adult-income",
    "region": "us-east-1",
    "aws_conn_id": "aws_default",
    "poll_seconds": "30",
    "deferrable": "false",
    "max_wait_hours": "6",
}


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def lookup(name: str, *, use_variables: bool = True) -> str | None:
    value = os.environ.get(ENV_PREFIX + name.upper())
    if value not in (None, ""):
        return value
    if use_variables:
        try:
            from airflow.sdk import Variable

            value = Variable.get(f"adult_pipeline_{name}", default=None)
        except Exception:  # no metadata DB / API at parse time: fall back to defaults
            value = None
        if value not in (None, ""):
            return value
    return DEFAULTS.get(name)


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
    deferrable: bool
    max_wait_hours: float

    @property
    def root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}"


def load(*, use_variables: bool = True) -> Settings:
    """The settings in force; raises SettingsError naming what is missing."""
    values = {
        name: lookup(name, use_variables=use_variables)
        for name in (*DEFAULTS, "bucket", "role_arn")
    }
    missing = [name for name in ("bucket", "role_arn") if not values[name]]
    if missing:
        raise SettingsError(
            "missing setting(s): "
            + ", ".join(
                f"{ENV_PREFIX}{name.upper()} (or Variable adult_pipeline_{name})"
                for name in missing
            )
        )
    try:
        return Settings(
            bucket=values["bucket"],
            prefix=values["prefix"],
            region=values["region"],
            role_arn=values["role_arn"],
            aws_conn_id=values["aws_conn_id"],
            poll_seconds=max(1, int(values["poll_seconds"])),
            deferrable=as_bool(values["deferrable"]),
            max_wait_hours=float(values["max_wait_hours"]),
        )
    except ValueError as exc:
        raise SettingsError(f"malformed setting: {exc}") from exc


def parse_time_setting(name: str, default: str) -> str:
    """A setting needed while the DAG is parsed (no Variables there: they cost a DB call)."""
    return lookup(name, use_variables=False) or default


@dataclass(frozen=True)
class DagSettings:
    """What the DAG files read while they are parsed: environment only (Variables would cost a
    database call per parse)."""

    aws_conn_id: str
    poll_seconds: int
    retry_delay: dt.timedelta
    deferrable: bool
    # Stream the training job's log into the task log (the provider then re-describes the
    # job every 30 s).
    stream_training_log: bool


def dag_settings() -> DagSettings:
    return DagSettings(
        aws_conn_id=parse_time_setting("aws_conn_id", "aws_default"),
        poll_seconds=int(parse_time_setting("poll_seconds", "30")),
        retry_delay=dt.timedelta(seconds=int(parse_time_setting("retry_delay_seconds", "60"))),
        deferrable=as_bool(parse_time_setting("deferrable", "false")),
        stream_training_log=as_bool(parse_time_setting("stream_training_log", "true")),
    )
