"""client_clock: the SDK's polling sleeps are short, and its clock counts them whole."""

from __future__ import annotations

import sys
import time
import types

import pytest

from tests.emulator.clients import client_clock


def test_a_long_sleep_is_short_and_the_clock_moves_on_by_all_of_it() -> None:
    clock = client_clock.PollingClock()
    before, real_before = clock.time(), time.time()
    clock.sleep(30)
    real_slept = time.time() - real_before
    assert real_slept < 1
    assert clock.time() - before >= 30
    assert clock.monotonic() >= time.monotonic() + 29.7
    clock.sleep(0.01)  # a short sleep is slept as asked, and skips nothing
    assert clock.skipped == pytest.approx(30 - client_clock.LONGEST_SLEEP_S)
    assert clock.strftime("%Y") == time.strftime("%Y")  # the rest is time's own


def test_install_gives_each_polling_module_one_clock_and_skips_absent_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    polling = types.ModuleType("fake_sdk_session")
    polling.time = time
    other = types.ModuleType("fake_sdk_other")
    other.time = time
    monkeypatch.setitem(sys.modules, "fake_sdk_session", polling)
    monkeypatch.setitem(sys.modules, "fake_sdk_other", other)
    monkeypatch.setattr(
        client_clock, "POLLING_MODULES", ("fake_sdk_session", "fake_sdk_other", "no_such_sdk")
    )
    assert client_clock.install() == ["fake_sdk_session", "fake_sdk_other"]
    assert isinstance(polling.time, client_clock.PollingClock)
    assert polling.time is other.time
