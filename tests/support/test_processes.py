"""stop_session ends a command's whole session: politely first, by force after the grace."""

from __future__ import annotations

import subprocess

from tests.support.processes import stop_session


def start_in_own_session(script: str) -> subprocess.Popen:
    started = subprocess.Popen(
        ["bash", "-c", f"{script}\necho started\nwait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert started.stdout is not None and started.stdout.readline() == "started\n"
    return started


def test_a_command_that_obeys_sigterm_ends_with_it() -> None:
    process = start_in_own_session("sleep 30 &")
    stop_session(process, grace=30)
    assert process.returncode == -15


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    process = start_in_own_session("trap '' TERM; sleep 30 &")
    stop_session(process, grace=0.2)
    assert process.returncode == -9
