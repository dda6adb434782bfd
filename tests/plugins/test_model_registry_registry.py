"""plugins/model_registry/registry.py: where the page looks, from the DAG's own settings (its
Airflow Variables)."""

from __future__ import annotations

import pytest
from model_registry import registry

from include.adult_income import names


def test_the_dags_settings_decide_connection_region_bucket_and_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_AWS_CONN_ID", "aws_prod")
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_REGION", "eu-west-1")
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_BUCKET", "models-bucket")
    monkeypatch.setenv("AIRFLOW_VAR_ADULT_PIPELINE_PREFIX", "/team/adult/")
    location = registry.location_from_settings()
    assert (location.aws_conn_id, location.region) == ("aws_prod", "eu-west-1")
    # a run's files are where the DAG's layout puts them
    assert location.run_uri("dag", "run-1") == (
        f"s3://models-bucket/team/adult/{names.run_path('dag', 'run-1')}"
    )


def test_without_settings_the_dags_defaults_apply_and_no_run_is_looked_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_CONN_ID", "REGION", "BUCKET", "PREFIX"):
        monkeypatch.delenv(f"AIRFLOW_VAR_ADULT_PIPELINE_{name}", raising=False)
    location = registry.location_from_settings()
    assert (location.aws_conn_id, location.region, location.prefix) == (
        "aws_default",
        "us-east-1",
        "adult-income",
    )
    assert location.run_uri("dag", "run-1") is None


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (None, None),
        ({"model_package_arn": None}, None),
        (
            {"model_package_arn": "arn:x/1", "accuracy": "0.8", "roc_auc": float("nan")},
            {
                "model_package_arn": "arn:x/1",
                "accuracy": 0.8,
                "roc_auc": None,
                "not_compared": None,
            },
        ),
        (
            # evaluate.py's block for a champion of another feature schema
            {
                "model_package_arn": "arn:x/1",
                "accuracy": None,
                "comparable": False,
                "reason": "the champion was trained on another feature schema",
            },
            {
                "model_package_arn": "arn:x/1",
                "accuracy": None,
                "roc_auc": None,
                "not_compared": "the champion was trained on another feature schema",
            },
        ),
    ],
)
def test_a_champion_block_is_shown_only_when_well_formed(block, expected) -> None:
    assert registry.champion_block({"champion": block}) == expected
    # evaluation.json first, then summary.json
    assert registry.champion_block(None, {"champion": block}) == expected
