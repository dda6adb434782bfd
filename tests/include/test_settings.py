"""Settings: Airflow Variables rendered once by prepare_run; defaults; required ones named."""

from __future__ import annotations

import pytest

from include.adult_income import settings


def test_each_setting_is_a_template_over_its_variable() -> None:
    templates = settings.templated()
    assert templates["bucket"] == "{{ var.value.get('adult_pipeline_bucket', '') }}"
    assert templates["prefix"] == "{{ var.value.get('adult_pipeline_prefix', 'adult-income') }}"
    assert set(templates) == set(settings.NAMES)
    assert settings.environment_variable("role_arn") == "AIRFLOW_VAR_ADULT_PIPELINE_ROLE_ARN"


def test_missing_bucket_and_role_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADULT_PIPELINE_BUCKET", raising=False)
    with pytest.raises(settings.SettingsError) as raised:
        settings.from_variables({"bucket": "", "role_arn": "  "})
    assert "Variable adult_pipeline_bucket (or AIRFLOW_VAR_ADULT_PIPELINE_BUCKET)" in str(
        raised.value
    )
    assert "AIRFLOW_VAR_ADULT_PIPELINE_ROLE_ARN" in str(raised.value)
    assert "no longer read" not in str(raised.value)


def test_an_old_environment_name_is_pointed_at_its_new_one(monkeypatch) -> None:
    monkeypatch.setenv("ADULT_PIPELINE_BUCKET", "my-bucket")
    with pytest.raises(settings.SettingsError, match="ADULT_PIPELINE_BUCKET is set but no longer"):
        settings.from_variables({"role_arn": "r"})


def test_values_and_defaults() -> None:
    loaded = settings.from_variables(
        {"bucket": "my-bucket", "role_arn": "arn:aws:iam::111122223333:role/x", "poll_seconds": "0"}
    )
    assert loaded.root_uri == "s3://my-bucket/adult-income"
    assert loaded.region == "us-east-1" and loaded.aws_conn_id == "aws_default"
    assert loaded.stream_training_log is True
    assert loaded.poll_seconds == 1  # never a busy loop
    assert settings.from_plan({"settings": loaded.as_dict()}) == loaded


def test_malformed_values_are_refused_naming_the_variable() -> None:
    base = {"bucket": "b", "role_arn": "r"}
    with pytest.raises(
        settings.SettingsError, match=r"adult_pipeline_stream_training_log.*boolean"
    ):
        settings.from_variables({**base, "stream_training_log": "perhaps"})
    with pytest.raises(settings.SettingsError, match="malformed Variable adult_pipeline_poll"):
        settings.from_variables({**base, "poll_seconds": "often"})
