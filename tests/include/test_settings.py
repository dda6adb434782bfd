"""Settings: environment first, then defaults; required ones named when missing."""

from __future__ import annotations

import pytest

from include.adult_income import settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("bucket", "role_arn", "prefix", "poll_seconds", "deferrable", "region"):
        monkeypatch.delenv(f"ADULT_PIPELINE_{name.upper()}", raising=False)


def test_missing_bucket_and_role_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(use_variables=False)
    assert "ADULT_PIPELINE_BUCKET" in str(raised.value)
    assert "ADULT_PIPELINE_ROLE_ARN" in str(raised.value)


def test_environment_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADULT_PIPELINE_BUCKET", "my-bucket")
    monkeypatch.setenv("ADULT_PIPELINE_ROLE_ARN", "arn:aws:iam::111122223333:role/x")
    monkeypatch.setenv("ADULT_PIPELINE_DEFERRABLE", "yes")
    monkeypatch.setenv("ADULT_PIPELINE_POLL_SECONDS", "0")
    loaded = settings.load(use_variables=False)
    assert loaded.root_uri == "s3://my-bucket/adult-income"
    assert loaded.region == "us-east-1" and loaded.aws_conn_id == "aws_default"
    assert loaded.deferrable is True
    assert loaded.poll_seconds == 1  # never a busy loop


def test_malformed_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADULT_PIPELINE_BUCKET", "b")
    monkeypatch.setenv("ADULT_PIPELINE_ROLE_ARN", "r")
    monkeypatch.setenv("ADULT_PIPELINE_DEFERRABLE", "perhaps")
    with pytest.raises(settings.SettingsError, match="boolean"):
        settings.load(use_variables=False)
    monkeypatch.setenv("ADULT_PIPELINE_DEFERRABLE", "false")
    monkeypatch.setenv("ADULT_PIPELINE_POLL_SECONDS", "often")
    with pytest.raises(settings.SettingsError, match="malformed"):
        settings.load(use_variables=False)
