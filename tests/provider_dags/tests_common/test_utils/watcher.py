"""``watcher()``: a task downstream of every task that fails when any of them failed.

The examples end with teardown tasks that run whatever happened (trigger rule ALL_DONE), so a run
whose body failed would still end green on the teardown's success; the watcher makes it fail.
"""

from __future__ import annotations

from airflow.exceptions import AirflowException
from airflow.sdk import TriggerRule, task


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def watcher() -> None:
    raise AirflowException("Failing task because one or more upstream tasks failed.")
