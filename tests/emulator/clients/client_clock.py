"""The SDKs' polling without their fixed waits: part of the client tests' harness, not client code.

The harness (tests/support/sdk2_environment.py) starts every client script through ``main``
below, which installs the clock and then runs the script unchanged. SDK 2's
``Estimator.fit(logs=True)`` looks at its training job only once 30 s have passed since its last
look, ``Model.deploy`` sleeps 30 s between looks at the endpoint, its job waits sleep 5 s; SDK 3's
resources sleep 5 s. Against the emulator, whose jobs take seconds, those intervals would be most
of a client test. Each SDK module that polls gets a clock whose ``sleep`` lasts at most
``LONGEST_SLEEP_S`` and whose ``time`` moves on by what the sleep skipped: every loop runs as
written, with the same looks in the same order, only sooner.

Standard library only: it runs in either SDK's environment (see client_support.py).
"""

from __future__ import annotations

import importlib
import runpy
import sys
import time
from typing import Any

LONGEST_SLEEP_S = 0.25
# The modules whose waits call ``time.sleep`` between looks: SDK 2's session (fit's log tail,
# wait_for_endpoint, wait_for_transform_job, wait_for_tuning_job) and SDK 3's resources and
# trainer waits. A module the running SDK does not have is skipped.
POLLING_MODULES = (
    "sagemaker.session",
    "sagemaker.core.resources",
    "sagemaker.core.helper.session_helper",
    "sagemaker.train.common_utils.trainer_wait",
    "sagemaker.train.common_utils.job_wait",
)


class PollingClock:
    """``time`` as a polling module sees it: short sleeps, and a clock that counts them whole."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def sleep(self, seconds: float) -> None:
        slept = min(seconds, LONGEST_SLEEP_S)
        self.skipped += seconds - slept
        time.sleep(slept)

    def time(self) -> float:
        return time.time() + self.skipped

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install() -> list[str]:
    """Give every polling module of the running SDK one shared clock; the modules patched."""
    clock = PollingClock()
    patched = []
    for name in POLLING_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "time", None) is time:
            module.time = clock
            patched.append(name)
    return patched


def main(argv: list[str]) -> None:
    """``python -c 'import client_clock, sys; client_clock.main(sys.argv[1:])' script args``."""
    if not install():
        raise SystemExit("client_clock: none of the SDK's polling modules imports time")
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")
