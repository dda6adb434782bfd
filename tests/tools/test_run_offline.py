"""`make run` refuses what the DAG would refuse before it starts anything, and finds the run's
summary and files in the emulator's S3 afterwards."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from emulator.server import EmulatorServer
from include.adult_income.report import REPORT_FILES
from tools import run_offline
from tools.offline import OFFLINE_BUCKET, OFFLINE_PREFIX, aws_client


class NoEmulator:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the emulator was started for a conf that is refused")


@pytest.fixture()
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)


# What the DAG would refuse, as `make run` arguments, and the reason it gives.
REFUSED = {
    "unknown-key": (["--conf", '{"num_rounds": 500}'], "'num_rounds'; did you mean num_round?"),
    "non-finite": (["--conf", '{"eta": NaN}'], "eta is nan: numbers must be finite"),
    "native-has-no-deploy": (
        ["--pipeline", "native", "--conf", '{"deploy": true}'],
        "unknown param 'deploy'",
    ),
    # nobody could answer the question offline: the run would wait for ever
    "human-approval": (
        ["--conf", '{"human_approval": true}'],
        "trigger the run from `make airflow` instead",
    ),
}


@pytest.mark.parametrize(("argv", "reason"), REFUSED.values(), ids=REFUSED)
def test_a_conf_the_dag_would_refuse_is_refused_before_anything_starts(
    argv: list[str], reason: str, refusing: None, tmp_path: Path, capsys
) -> None:
    assert run_offline.main([*argv, "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "conf refused before any task ran" in err
    assert reason in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--date", "10/11/2026"], "DATE must be YYYY-MM-DD, got '10/11/2026'"),
        (["--conf", "{num_round: 5}"], "CONF is not valid JSON"),
        (["--conf", "[1, 2]"], "CONF must be a JSON object"),
        (["--input", "nope.csv"], "INPUT nope.csv is not a file"),
        (["--pipeline", "other"], "invalid choice: 'other'"),
    ],
    ids=["date", "json", "not-an-object", "missing-input", "pipeline"],
)
def test_bad_arguments_end_with_a_usage_error(
    refusing: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_offline.main([*arguments, "--state-dir", str(tmp_path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: make run")
    assert message in err
    assert not (tmp_path / "runs").exists()


def test_a_run_id_becomes_one_directory_name() -> None:
    run_id = "manual__2026-11-10T06:00:00+00:00"
    assert run_offline.safe_dir_name(run_id) == "manual__2026-11-10T06_00_00_00_00"
    assert run_offline.safe_dir_name("../../etc") == ".._.._etc"


@pytest.mark.parametrize("uri", [None, "", "/tmp/evaluation.json", "file:///tmp/x"])
def test_only_s3_uris_are_downloaded(tmp_path: Path, uri: str | None) -> None:
    # An endpoint nothing listens on: a download attempt would fail the test.
    assert run_offline.download("http://127.0.0.1:9", uri, tmp_path / "x") is False
    assert not (tmp_path / "x").exists()


@pytest.fixture()
def offline_s3(emulator: EmulatorServer):
    s3 = aws_client("s3", emulator.url)
    if OFFLINE_BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=OFFLINE_BUCKET)
    return s3


def put_summary(s3, run: str, **summary: str) -> None:
    key = f"{OFFLINE_PREFIX}/runs/{run}/summary.json"
    s3.put_object(Bucket=OFFLINE_BUCKET, Key=key, Body=json.dumps(summary).encode())


def test_the_summary_is_found_by_dag_and_logical_date(emulator: EmulatorServer, offline_s3) -> None:
    dag_id, date = f"dag-{uuid.uuid4().hex[:8]}", "2026-11-10"
    put_summary(offline_s3, f"{dag_id}-other-date", dag_id=dag_id, logical_date="2026-11-09")
    put_summary(offline_s3, f"{dag_id}-other-dag", dag_id="another", logical_date=date)
    put_summary(offline_s3, f"{dag_id}-run", dag_id=dag_id, logical_date=date, run_id="the-run")
    # Only summary.json files are summaries: another JSON file under runs/ is not read.
    offline_s3.put_object(
        Bucket=OFFLINE_BUCKET,
        Key=f"{OFFLINE_PREFIX}/runs/{dag_id}-run/evaluation.json",
        Body=json.dumps({"dag_id": dag_id, "logical_date": date}).encode(),
    )
    found = run_offline.find_summary(emulator.url, dag_id, date)
    assert found == {"dag_id": dag_id, "logical_date": date, "run_id": "the-run"}
    assert run_offline.find_summary(emulator.url, dag_id, "2026-11-11") is None


def test_an_s3_uri_is_downloaded_to_the_target(
    emulator: EmulatorServer, offline_s3, tmp_path: Path
) -> None:
    key = f"{OFFLINE_PREFIX}/runs/{uuid.uuid4().hex[:8]}/evaluation.json"
    offline_s3.put_object(Bucket=OFFLINE_BUCKET, Key=key, Body=b'{"accuracy": 0.8}')
    target = tmp_path / "evaluation.json"
    assert run_offline.download(emulator.url, f"s3://{OFFLINE_BUCKET}/{key}", target) is True
    assert target.read_bytes() == b'{"accuracy": 0.8}'


class SessionEmulator:
    """Takes EmulatorProcess's place with the session's emulator: it writes the log file the
    run moves beside its summary, and leaves the emulator running when the run is done."""

    url = ""
    joined = False  # as if started for this run

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        log_path.write_text("emulator log\n")

    def __enter__(self) -> SessionEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class JoinedEmulator(SessionEmulator):
    """Takes EmulatorProcess's place as the emulator of a running `make airflow`: the run joins
    it, and it logs to a file of its own, not to the run's."""

    joined = True

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        pass


# Stands in for this interpreter in the commands the run starts: `-m airflow db migrate` makes
# the database, `-m tools.dag_test ...` prints DAG_OUTPUT and exits with DAG_EXIT.
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$CALLS"
case "$2" in
  airflow) touch "$AIRFLOW_HOME/airflow.db" ;;
  tools.dag_test) echo "$DAG_OUTPUT"; exit "$DAG_EXIT" ;;
esac
"""


@pytest.fixture()
def offline_run(emulator: EmulatorServer, offline_s3, tmp_path: Path, monkeypatch):
    """``run(date, dag_exit, dag_output, *argv)``: `make run` for ``date`` in tmp_path/state,
    the DAG run played by FAKE_PYTHON; returns main's exit code and the commands it ran."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    monkeypatch.setattr(run_offline.sys, "executable", str(fake))
    monkeypatch.setattr(SessionEmulator, "url", emulator.url)
    monkeypatch.setattr(run_offline, "EmulatorProcess", SessionEmulator)
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))

    def run(date: str, dag_exit: int, dag_output: str, *argv: str) -> tuple[int, list[str]]:
        monkeypatch.setenv("DAG_EXIT", str(dag_exit))
        monkeypatch.setenv("DAG_OUTPUT", dag_output)
        state = ["--state-dir", str(tmp_path / "state")]
        code = run_offline.main(["--date", date, *state, *argv])
        return code, calls.read_text().splitlines()

    return run


def unused_date() -> str:
    """A logical date no other test's summary in the session's emulator has."""
    return f"{1000 + uuid.uuid4().int % 9000:04d}-01-01"


def test_a_run_that_succeeds_keeps_its_summary_files_and_logs_together(
    offline_run, offline_s3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    date = unused_date()
    run_dir = f"{OFFLINE_PREFIX}/runs/{date}"
    uri = f"s3://{OFFLINE_BUCKET}/{run_dir}"
    for name in ("evaluation.json", "model.tar.gz", *REPORT_FILES):
        offline_s3.put_object(Bucket=OFFLINE_BUCKET, Key=f"{run_dir}/{name}", Body=name.encode())
    summary = {
        "dag_id": "adult_income_pipeline",
        "logical_date": date,
        "run_id": f"manual__{date}T06:00:00+00:00",
        "decision": "registered",
        "evaluation_uri": f"{uri}/evaluation.json",
        "model_uri": f"{uri}/model.tar.gz",
        "report_uri": f"{uri}/report.html",
    }
    put_summary(offline_s3, date, **summary)

    code, calls = offline_run(date, 0, "the DAG ran", "--conf", '{"num_round": 5}')

    assert code == 0
    assert calls[0] == "-m airflow db migrate"
    dag_test = calls[1].split()
    assert dag_test[:4] == ["-m", "tools.dag_test", "adult_income_pipeline", date]
    assert dag_test[4] == "--run-after"
    assert dag_test[6:] == ["--conf", '{"num_round":', "5}"]
    kept = tmp_path / "state" / "runs" / run_offline.safe_dir_name(summary["run_id"])
    assert json.loads((kept / "summary.json").read_text()) == summary
    for name in ("evaluation.json", "model.tar.gz", *REPORT_FILES):
        assert (kept / name).read_bytes() == name.encode()
    assert (kept / "airflow.log").read_text() == "the DAG ran\n"
    assert (kept / "emulator.log").read_text() == "emulator log\n"
    assert not (tmp_path / "state" / "runs" / "latest" / "airflow.log").exists()
    assert capsys.readouterr().out.endswith(f"\nrun registered: {kept / 'summary.json'}\n")
    # the date's input partition was seeded from the bundled data
    partition = f"{OFFLINE_PREFIX}/raw/ds={date}/"
    listed = offline_s3.list_objects_v2(Bucket=OFFLINE_BUCKET, Prefix=partition)["Contents"]
    assert [item["Key"] for item in listed] == [f"{partition}adult.csv"]


def test_a_failed_run_says_why_and_where_its_log_is(
    offline_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = "ParamValidationError: Invalid input for param num_round: 0 is less than 1"
    code, _ = offline_run(unused_date(), 1, f"parsing\n{refusal}", "--conf", '{"num_round": 0}')
    assert code == 1
    err = capsys.readouterr().err
    log = tmp_path / "state" / "runs" / "latest" / "airflow.log"
    assert err.startswith(f"parsing\n{refusal}\n")  # the log's tail
    assert "\nconf refused before any task ran: Invalid input for param num_round" in err
    assert err.endswith(f"\nrun FAILED (airflow exit code 1); full log: {log}\n")


def test_a_run_that_joins_a_running_emulator_keeps_no_emulator_log_of_an_earlier_run(
    offline_run, offline_s3, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", JoinedEmulator)
    # What an earlier run that failed before its summary left behind.
    latest = tmp_path / "state" / "runs" / "latest"
    latest.mkdir(parents=True)
    (latest / "emulator.log").write_text("an earlier run's emulator\n")
    date = unused_date()
    summary = {
        "dag_id": "adult_income_pipeline",
        "logical_date": date,
        "run_id": f"manual__{date}T06:00:00+00:00",
        "decision": "rejected",
    }
    put_summary(offline_s3, date, **summary)

    code, _ = offline_run(date, 0, "the DAG ran")

    assert code == 0
    kept = tmp_path / "state" / "runs" / run_offline.safe_dir_name(summary["run_id"])
    assert (kept / "airflow.log").read_text() == "the DAG ran\n"
    assert not (kept / "emulator.log").exists()
    assert not (latest / "emulator.log").exists()
