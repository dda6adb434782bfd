"""``AIRFLOW_V_3_0_PLUS``: whether this Airflow is 3.0 or later (the examples branch on it)."""

from __future__ import annotations

from airflow import __version__
from packaging.version import Version

AIRFLOW_V_3_0_PLUS = Version(Version(__version__).base_version) >= Version("3.0.0")
