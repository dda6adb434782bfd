"""`make run INPUT=...` with data no model should be trained on: the run fails at once, says
why, creates one preprocess job (a data error is not retried) and registers nothing.

Every data error preprocess.py refuses (a missing column, a label of one class, a bad value)
takes this same path through the DAG; each one's message is in tests/scripts/test_preprocess.py.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.offline_account import OfflineAccount
from tools.offline import ADULT_CSV

pytestmark = pytest.mark.e2e


def write_rows(
    path: Path, keep: Callable[[dict[str, str]], bool], drop_column: str | None = None
) -> Path:
    with ADULT_CSV.open(newline="") as source, path.open("w", newline="") as target:
        reader = csv.DictReader(source)
        fields = [f for f in reader.fieldnames or [] if f != drop_column]
        writer = csv.DictWriter(target, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in reader:
            if keep(row):
                writer.writerow(row)
    return path


def preprocess_jobs(account: OfflineAccount) -> set[str]:
    """Every preprocess job the local account holds."""
    pages = account.client("sagemaker").get_paginator("list_processing_jobs")
    return {
        job["ProcessingJobName"]
        for page in pages.paginate()
        for job in page["ProcessingJobSummaries"]
        if job["ProcessingJobName"].startswith("preprocess-")
    }


def run_with_input(
    account: OfflineAccount, date: str, source: Path
) -> tuple[int, dict, str, set[str]]:
    """(exit code, summary, airflow log, preprocess jobs it created) of one `make run`."""
    before = preprocess_jobs(account)
    code, summary = account.run(date, source=source)
    assert summary is not None
    return code, summary, account.airflow_log(summary), preprocess_jobs(account) - before


def test_a_csv_without_the_label_fails_one_preprocess_job_naming_the_column(
    account: OfflineAccount, tmp_path: Path
) -> None:
    no_label = write_rows(tmp_path / "no-income.csv", lambda row: True, drop_column="income")
    code, summary, log, created = run_with_input(account, "2026-10-02", no_label)
    assert code == 1
    # the job's FailureReason, in the task's log: the file, its line and the problem
    assert "no-income.csv: line 1 (header): missing column(s) 'income'" in log
    assert summary["model_package_arn"] is None and summary["decision"] == "failed"
    assert "preprocess" in summary["failed_tasks"]
    assert len(created) == 1, created  # a data error is not retried: no -a2, -a3
