"""`make run` refuses what the DAG would refuse before it starts anything, and finds the run's
summary and files in the emulator's S3 afterwards."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from emulator.server import EmulatorServer
from tools import run_offline
from tools.offline import OFFLINE_BUCKET, OFFLINE_PREFIX, aws_client


class NoEmulator:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the emulator was started for a conf that is refused")


@pytest.fixture()
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_offline, "EmulatorProcess", NoEmulator)


@pytest.mark.parametrize(
    ("pipeline", "conf", "reason"),
    [
        ("main", '{"num_rounds": 500}', "'num_rounds'; did you mean num_round?"),
        ("main", '{"eta": NaN}', "eta is nan: numbers must be finite"),
        ("native", '{"deploy": true}', "unknown param 'deploy'"),
        # nobody could answer the question offline: the run would wait for ever
        ("main", '{"human_approval": true}', "trigger the run from `make airflow` instead"),
    ],
    ids=["unknown-key", "non-finite", "native-has-no-deploy", "human-approval"],
)
def test_a_conf_the_dag_would_refuse_is_refused_before_anything_starts(
    refusing: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pipeline: str,
    conf: str,
    reason: str,
) -> None:
    argv = ["--pipeline", pipeline, "--conf", conf, "--state-dir", str(tmp_path)]
    assert run_offline.main(argv) == 1
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
