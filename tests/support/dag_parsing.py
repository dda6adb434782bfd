"""What parsing a DAG file imports, seen from a fresh interpreter (the DAG processor's view)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Heavy modules a DAG file must not import at parse time (Airflow's best practices).
HEAVY = ("pandas", "xgboost", "sklearn", "sagemaker")


def heavy_imports_of(dag_file: Path) -> list[str]:
    """The HEAVY modules loaded after running ``dag_file`` in a clean interpreter."""
    probe = (
        "import sys, json, runpy; runpy.run_path(sys.argv[1]);"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": "/tmp/af-probe"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
