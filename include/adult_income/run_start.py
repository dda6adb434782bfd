"""The start both DAGs share: their schedule, and a run's first tasks (check the conf, plan the
run, wait for its input).

The DAGs differ in how they plan (the main DAG plans its job requests, the native one its
pipeline and execution parameters), not in when or how a run begins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.sensors.python import PythonSensor

from include.adult_income import settings, tasks
from include.adult_income.tasks import planned

# Both DAGs train on the same daily export: one run a day, no catch-up of the dates before a
# DAG is switched on (backfills are explicit), at most three runs at once.
DAILY: dict[str, Any] = {
    "schedule": "@daily",
    "start_date": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    "catchup": False,
    "max_active_runs": 3,
}


def begin_run(
    prepare_run: Callable[..., dict[str, Any]],
) -> tuple[PythonOperator, PythonOperator, PythonSensor]:
    """check_conf, prepare_run (``prepare_run`` as its callable) and wait_for_input, in the
    DAG being defined; the DAG file chains them."""
    check_conf = PythonOperator(task_id="check_conf", python_callable=tasks.check_conf)
    plan = PythonOperator(
        task_id=tasks.PLAN_TASK,
        python_callable=prepare_run,
        op_kwargs={"variables": settings.templated()},
    )
    wait_for_input = PythonSensor(
        task_id="wait_for_input",
        python_callable=tasks.input_ready,
        op_kwargs={
            "input_uri": planned("layout", "input_uri"),
            "aws_conn_id": planned("settings", "aws_conn_id"),
            "region": planned("settings", "region"),
        },
        poke_interval=300,  # a daily export: checking every five minutes is plenty
        timeout=6 * 3600,
        mode="reschedule",
    )
    return check_conf, plan, wait_for_input
