"""A local account as `make run` keeps it in .local/ (emulator data dir, Airflow DB, runs), for
the tests that run the DAG end to end; the fixtures that make one are in tests/conftest.py.

Airflow's metadata DB is migrated once per test session (seconds of CPU each time) and every
account starts from a copy of it. Each test module has an account of its own, so the model
versions, champions and jobs a module asserts on are its own; its emulator is started once and
every `make run` of the module joins it, as `make run` joins the emulator of a running
`make airflow` (emulator/process.py).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import run_offline
from tools.offline import aws_client, offline_environment

# What ensure_airflow_db leaves in AIRFLOW_HOME: the DB and the stamp that says it is current.
MIGRATED_FILES = ("airflow.db", ".migrated-for-lock")


# A tuning job of script-mode training jobs, as small as the route allows: one batch of two
# Random jobs (`make run`'s own default tunes 8; the route is the same).
SCRIPT_MODE_TUNING = {
    "training_mode": "script",
    "tuning_max_jobs": 2,
    "tuning_max_parallel_jobs": 2,
    "tuning_strategy": "Random",
}


@dataclass
class OfflineAccount:
    """One module's local account: ``state_dir`` as `make run --state-dir` takes it."""

    state_dir: Path
    emulator_url: str

    def client(self, service: str) -> Any:
        return aws_client(service, self.emulator_url)

    def environment(self) -> dict[str, str]:
        """What `airflow` commands against this account run with (tools/offline.py)."""
        return offline_environment(self.emulator_url, self.state_dir / "airflow")

    def run(
        self,
        date: str,
        conf: dict[str, Any] | None = None,
        *,
        pipeline: str = "main",
        source: Path | None = None,
    ) -> tuple[int, dict[str, Any] | None]:
        """``make run PIPELINE=... DATE=... CONF=... [INPUT=...]``: its exit code and the
        newest summary written for ``date`` (None when the run wrote none)."""
        argv = ["--pipeline", pipeline, "--date", date, "--conf", json.dumps(conf or {})]
        if source is not None:
            argv += ["--input", str(source)]
        code = run_offline.main([*argv, "--state-dir", str(self.state_dir)])
        return code, self.summary_of(date)

    def summary_of(self, date: str) -> dict[str, Any] | None:
        summaries = [
            json.loads(path.read_text())
            for path in (self.state_dir / "runs").glob("*/summary.json")
        ]
        dated = [s for s in summaries if s["logical_date"] == date]
        return max(dated, key=lambda s: s["run_id"]) if dated else None

    def run_dir(self, summary: dict[str, Any]) -> Path:
        return self.state_dir / "runs" / run_offline.safe_dir_name(summary["run_id"])

    def airflow_log(self, summary: dict[str, Any]) -> str:
        return (self.run_dir(summary) / "airflow.log").read_text()


def new_account(root: Path, migrated_airflow_home: Path) -> Path:
    """A state dir for `make run --state-dir` whose Airflow DB is a copy of the migrated one."""
    (root / "airflow").mkdir(parents=True)
    for name in MIGRATED_FILES:
        shutil.copy2(migrated_airflow_home / name, root / "airflow" / name)
    return root
