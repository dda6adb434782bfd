"""`make airflow`: the emulator plus `airflow standalone` with the project's DAGs, offline.

Open http://localhost:8080 (user `admin`; the password is printed by Airflow and kept in
.local/airflow/simple_auth_manager_passwords.json.generated), then trigger
`adult_income_pipeline` with a conf from the trigger form. Ctrl-C stops both.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from emulator.process import EmulatorProcess
from tools.offline import LOCAL, ensure_airflow_db, offline_environment, seed_input


def main() -> int:
    with EmulatorProcess(LOCAL / "emulator", log_path=LOCAL / "emulator.log") as emulator:
        env = offline_environment(emulator.url, LOCAL / "airflow")
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
        ensure_airflow_db(env)
        today = dt.date.today()
        for offset in range(3):  # today and two days back, for backfills to find input
            seed_input(emulator.url, (today - dt.timedelta(days=offset)).isoformat())
        print(f"emulator at {emulator.url}; Airflow UI at http://localhost:8080", flush=True)
        try:
            return subprocess.call([sys.executable, "-m", "airflow", "standalone"], env=env)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
