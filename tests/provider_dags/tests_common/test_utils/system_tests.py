"""``get_test_run(dag)``: what Airflow's suite collects to run an example with pytest.

Here the examples run through ``airflow dags test`` (tests/e2e/test_provider_example_dags.py),
so the returned function is only what a pytest run of the example file itself would call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def get_test_run(dag: Any) -> Callable[[], None]:
    def test_run() -> None:
        run = dag.test()
        assert str(run.state).endswith("success"), f"{dag.dag_id}: {run.state}"

    return test_run
