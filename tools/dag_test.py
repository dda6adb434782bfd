"""One DAG run in-process, as `airflow dags test` runs it, but with a fixed ``run_after``.

`airflow dags test` names each run after the wall clock, so it cannot run the same run twice.
Giving ``run_after`` makes the run id (``manual__<run_after>``) repeatable: running again
replaces the DagRun and re-executes every task under the same run id, which is what a cleared
or retried run does in a deployment.

    python -m tools.dag_test DAG_ID LOGICAL_DATE --run-after 2026-11-10T06:00:00+00:00 [--conf '{}']

The run's start date is when it really starts: `dag.test()` would record the logical date
(midnight) instead, which the UI shows as a run of many hours.

Exit status 0 when the run succeeded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any


def started_now(create: Callable[..., Any]) -> Callable[..., Any]:
    """``get_or_create_dagrun`` that records the real start time, not the logical date."""

    def create_started_now(*args: Any, **kwargs: Any) -> Any:
        kwargs["start_date"] = dt.datetime.now(dt.UTC)
        return create(*args, **kwargs)

    return create_started_now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("logical_date", type=dt.date.fromisoformat)
    parser.add_argument("--run-after", required=True, type=dt.datetime.fromisoformat)
    parser.add_argument("--conf", default="{}", type=json.loads)
    args = parser.parse_args(argv)
    from airflow.models import dagrun
    from airflow.utils.cli import get_bagged_dag  # what `airflow dags test` uses

    # dag.test() imports this at call time and passes the logical date as the start date.
    dagrun.get_or_create_dagrun = started_now(dagrun.get_or_create_dagrun)

    dag = get_bagged_dag(bundle_names=None, dag_id=args.dag_id, dagfile_path=None)
    logical_date = dt.datetime.combine(args.logical_date, dt.time(), tzinfo=dt.UTC)
    run = dag.test(run_after=args.run_after, logical_date=logical_date, run_conf=args.conf)
    print(f"run {run.run_id}: {run.state}")
    return 0 if str(run.state) in {"success", "DagRunState.SUCCESS"} else 1


if __name__ == "__main__":
    sys.exit(main())
