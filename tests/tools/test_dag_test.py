"""tools/dag_test: a run's start date is when it really starts, not its logical date; bad
arguments are refused before any DAG is loaded."""

from __future__ import annotations

import datetime as dt

import pytest

from tools.dag_test import main, started_now


def test_the_start_date_given_by_dag_test_is_replaced_by_now() -> None:
    seen = {}

    def create(**kwargs: object) -> str:
        seen.update(kwargs)
        return "run"

    midnight = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    before = dt.datetime.now(dt.UTC)
    assert started_now(create)(start_date=midnight, logical_date=midnight) == "run"
    assert seen["logical_date"] == midnight
    assert before <= seen["start_date"] <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pipeline", "2026-11-10"], "the following arguments are required: --run-after"),
        (["pipeline", "10.11.2026", "--run-after", "2026-11-10T06:00"], "invalid fromisoformat"),
        (["pipeline", "2026-11-10", "--run-after", "6 am"], "argument --run-after: invalid"),
        (["pipeline", "2026-11-10", "--run-after", "2026-11-10T06:00", "--conf", "{x}"], "--conf"),
    ],
    ids=["no-run-after", "logical-date", "run-after", "conf"],
)
def test_bad_arguments_end_with_a_usage_error_before_airflow_is_asked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
