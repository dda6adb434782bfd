"""`make airflow`: the UI stays on loopback without a login; beyond it, the login is on."""

from __future__ import annotations

import pytest

from tools import airflow_standalone
from tools.airflow_standalone import ui_settings


def test_default_ui_is_loopback_only_and_loginless() -> None:
    settings = ui_settings("127.0.0.1")
    assert settings["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"


def test_serving_beyond_loopback_turns_the_login_on() -> None:
    settings = ui_settings("0.0.0.0")
    assert settings["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"


def test_airflow_reads_the_host_for_its_api_server(monkeypatch) -> None:
    # The setting is Airflow's own: its api-server command takes --host from [api] host.
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__API__HOST", "127.0.0.1")
    assert conf.get("api", "host") == "127.0.0.1"


def test_an_unknown_option_is_refused_before_the_emulator_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tools.test_run_offline import NoEmulator

    monkeypatch.setattr(airflow_standalone, "EmulatorProcess", NoEmulator)
    with pytest.raises(SystemExit) as exited:
        airflow_standalone.main(["--hots", "0.0.0.0"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --hots" in capsys.readouterr().err
