"""tools/dag_test: a run's start date is when it really starts, not its logical date."""

from __future__ import annotations

import datetime as dt

from tools.dag_test import started_now


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
