"""Airflow's cluster policy for the provider's example DAGs run offline (Airflow imports this
module at start from PYTHONPATH): the same DAGs, polling every second instead of every 30-60 s.

On AWS the examples wait minutes for each job, so their operators check every 30 s, their
sensors poke every 10-60 s and botocore's SageMaker waiters poll every 30 s. The emulator's jobs
take seconds, and at those intervals the five DAGs would spend most of ``make test`` asleep.
Only intervals change; what is called, and in which order, is the DAGs' own.
"""

from __future__ import annotations

from typing import Any

import botocore.waiter

POLL_SECONDS = 1


def task_policy(task: Any) -> None:
    if getattr(task, "poke_interval", 0) > POLL_SECONDS:
        task.poke_interval = POLL_SECONDS
    if getattr(task, "check_interval", 0) > POLL_SECONDS:
        task.check_interval = POLL_SECONDS


_wait = botocore.waiter.Waiter.wait


def _quick_wait(self: botocore.waiter.Waiter, **kwargs: Any) -> None:
    # A caller's own WaiterConfig wins; the waiters' defaults (Delay 30 s) do not.
    kwargs.setdefault("WaiterConfig", {"Delay": POLL_SECONDS, "MaxAttempts": 600})
    _wait(self, **kwargs)


botocore.waiter.Waiter.wait = _quick_wait  # type: ignore[method-assign]
