"""`make airflow`: the emulator plus `airflow standalone` with the project's DAGs, offline.

Open http://127.0.0.1:8080, then trigger `adult_income_pipeline` (or
`adult_income_native_pipeline`) with a conf from the trigger form. Ctrl-C stops both. The
project's plugins/ is the plugins folder (tools/offline.py): Browse -> Model registry lists the
versions the runs registered and approves or rejects them. With the conf
`{"human_approval": true, "deploy": true}` the run asks a person first: Browse -> Required
Actions lists the question (version, accuracy, champion), Approve deploys, Reject does not, and
the scheduler times an unanswered question out after `approval_timeout_minutes`.

The UI listens on 127.0.0.1 only and has no login there: a local development UI where everyone
is admin. `make airflow HOST=0.0.0.0` serves it beyond this machine, and then the login is on
(Airflow's simple auth manager prints the generated admin password): anyone who can trigger a
run can run code through the emulator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys

from emulator.local_clients import is_loopback
from emulator.process import EmulatorProcess
from tools.offline import LOCAL, ensure_airflow_db, offline_environment, seed_input
from tools.run_offline import DAG_IDS


def ui_settings(host: str) -> dict[str, str]:
    """Where the api-server listens, and whether it asks for a login (beyond loopback: yes)."""
    local = is_loopback(host)
    return {
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": "8080",
        # On loopback only: everyone is admin, no password to look up.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(local),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make airflow", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the UI's address; anything but loopback turns the login on",
    )
    args = parser.parse_args(argv)
    with EmulatorProcess(LOCAL / "emulator", log_path=LOCAL / "emulator.log") as emulator:
        env = offline_environment(emulator.url, LOCAL / "airflow")
        env.update(ui_settings(args.host))
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
        where = "http://127.0.0.1:8080" if is_loopback(args.host) else f"http://{args.host}:8080"
        login = "no login (loopback only)" if is_loopback(args.host) else "login on"
        print(f"emulator at {emulator.url}; Airflow UI at {where} ({login})", flush=True)
        print(
            f"model registry: {where}/plugin/model-registry (Browse -> Model registry)", flush=True
        )
        try:
            return subprocess.call([*airflow, "standalone"], env=env)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
