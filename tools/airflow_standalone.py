"""`make airflow`: the emulator plus `airflow standalone` with the project's DAGs, offline.

Open http://localhost:8080 (no login: a local development UI where everyone is admin), then
trigger `adult_income_pipeline` (or `adult_income_native_pipeline`) with a conf from the
trigger form. Ctrl-C stops both.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from emulator.process import EmulatorProcess
from tools.offline import LOCAL, ensure_airflow_db, offline_environment, seed_input
from tools.run_offline import DAG_IDS


def main() -> int:
    with EmulatorProcess(LOCAL / "emulator", log_path=LOCAL / "emulator.log") as emulator:
        env = offline_environment(emulator.url, LOCAL / "airflow")
        # A local, loopback-only development UI: everyone is admin, no password to look up.
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
        # The daily schedule and triggers should run without a first trip to the pause toggle.
        env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
        ensure_airflow_db(env)
        today = dt.date.today()
        for offset in range(3):  # today and two days back, for backfills to find input
            seed_input(emulator.url, (today - dt.timedelta(days=offset)).isoformat())
        # Register and unpause the DAG up front (a DB from an earlier session may hold it
        # paused), so the daily schedule and the trigger form work at once.
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "dags", "reserialize"], env=env, check=False)
        for dag_id in DAG_IDS.values():
            subprocess.run([*airflow, "dags", "unpause", dag_id], env=env, check=False)
        print(f"emulator at {emulator.url}; Airflow UI at http://localhost:8080", flush=True)
        try:
            return subprocess.call([*airflow, "standalone"], env=env)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
