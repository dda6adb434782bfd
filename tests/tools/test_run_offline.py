"""`make run` refuses what the DAG would refuse before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import run_offline


class NoEmulator:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the emulator was started for a conf that is refused")


def test_unknown_conf_key_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)
    code = run_offline.main(["--conf", '{"num_rounds": 500}', "--state-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "conf refused before any task ran" in err
    assert "'num_rounds'; did you mean num_round?" in err
    assert not (tmp_path / "runs").exists()


def test_non_finite_numbers_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)
    code = run_offline.main(["--conf", '{"eta": NaN}', "--state-dir", str(tmp_path)])
    assert code == 1
    assert "eta is nan: numbers must be finite" in capsys.readouterr().err


def test_the_native_pipeline_refuses_the_main_dags_deploy_param(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)
    argv = ["--pipeline", "native", "--conf", '{"deploy": true}', "--state-dir", str(tmp_path)]
    assert run_offline.main(argv) == 1
    assert "unknown param 'deploy'" in capsys.readouterr().err


def test_a_missing_input_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)
    with pytest.raises(SystemExit) as exited:
        run_offline.main(["--input", str(tmp_path / "nope.csv"), "--state-dir", str(tmp_path)])
    assert exited.value.code == 2


def test_human_approval_is_refused_offline_where_nobody_could_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)
    code = run_offline.main(["--conf", '{"human_approval": true}', "--state-dir", str(tmp_path)])
    assert code == 1
    assert "trigger the run from `make airflow` instead" in capsys.readouterr().err
