"""The two Linux process controls the emulator relies on, through libc's prctl.

- ``die_with_parent(sig)``: ``PR_SET_PDEATHSIG``, for a child about to exec (a ``preexec_fn``):
  the child gets ``sig`` when the thread that forked it ends, however it ends (SIGKILL too).
- ``become_subreaper()``: ``PR_SET_CHILD_SUBREAPER``, so orphaned descendants reparent to this
  process instead of init, where it can still find, kill and reap them.
"""

from __future__ import annotations

import ctypes
import functools
import signal
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


@functools.cache
def libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: signal.Signals) -> None:
    """In a forked child before exec: receive ``sig`` when the parent dies. One prctl call,
    safe between fork and exec."""
    libc().prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def become_subreaper() -> None:
    libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
