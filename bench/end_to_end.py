"""`make run` wall time beside the bare compute, and DAG parse time per DAG file.

- end to end: the whole DAG offline (`python -m tools.run_offline`, what `make run` runs once
  the venv exists) against the three steps run directly (preprocess.py, the built-in XGBoost
  algorithm program, evaluate.py) on the same data and seed; runs are interleaved, and the
  median of each and their ratio are recorded.
- parse: seconds to import a DAG file beyond `import airflow` in a fresh interpreter, median of
  five.

Run: `.venv/bin/python -m bench.end_to_end [--runs N]`; writes bench/results/end_to_end.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import write_results
from include.adult_income.sagemaker_requests import hyperparameters_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "end_to_end.json"
SCRIPTS = ROOT / "include" / "scripts"
ALGORITHM = ROOT / "emulator" / "algorithms" / "xgboost_builtin.py"
# The DAG's training job with default params: the same hyperparameters, as text.
DEFAULT_HYPERPARAMETERS = hyperparameters_for({})


def timed(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, **kwargs)
    return time.perf_counter() - started


def bare_compute() -> float:
    """The three steps, run directly, as the jobs run them."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(SCRIPTS / "preprocess.py"),
                f"--input-dir={ROOT / 'include' / 'data'}",
                *[
                    f"--{split}-dir={out / 'data' / split}"
                    for split in ("train", "validation", "test")
                ],
                f"--schema-dir={out / 'schema'}",
                "--seed=42",
            ],
            check=True,
            capture_output=True,
        )
        config = out / "config"
        config.mkdir()
        (config / "hyperparameters.json").write_text(json.dumps(DEFAULT_HYPERPARAMETERS))
        subprocess.run(
            [
                sys.executable,
                str(ALGORITHM),
                f"--config-dir={config}",
                f"--data-dir={out / 'data'}",
                f"--model-dir={out / 'model'}",
                f"--output-dir={out / 'output'}",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                sys.executable,
                str(SCRIPTS / "evaluate.py"),
                f"--model-dir={out / 'model'}",
                f"--test-dir={out / 'data' / 'test'}",
                f"--output-dir={out / 'evaluation'}",
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def pipeline(state_dir: Path, date: str) -> float:
    return timed(
        [sys.executable, "-m", "tools.run_offline", "--date", date, "--state-dir", str(state_dir)]
    )


def parse_seconds(dag_file: Path, repeats: int = 5) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    base = "import time, airflow.sdk; t = time.perf_counter()"
    with_dag = f"{base}; import runpy; runpy.run_path({str(dag_file)!r})"
    report = "; print(time.perf_counter() - t)"
    airflow_only, total = [], []
    for _ in range(repeats):
        for code, sink in ((base + report, airflow_only), (with_dag + report, total)):
            result = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            )
            sink.append(float(result.stdout.strip().splitlines()[-1]))
    return {
        "beyond_airflow_import_s": round(
            statistics.median(total) - statistics.median(airflow_only), 4
        )
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    pipeline_times, bare_times = [], []
    with tempfile.TemporaryDirectory() as state:
        pipeline(Path(state), "2026-01-01")  # warm-up: migrates the Airflow DB once
        for index in range(args.runs):
            bare_times.append(bare_compute())
            pipeline_times.append(pipeline(Path(state), f"2026-02-{index + 1:02d}"))
    pipeline_median = statistics.median(pipeline_times)
    bare_median = statistics.median(bare_times)
    result = {
        "runs": args.runs,
        "make_run_median_s": round(pipeline_median, 2),
        "bare_compute_median_s": round(bare_median, 2),
        "end_to_end_ratio": round(pipeline_median / bare_median, 2),
        "make_run_s": [round(t, 2) for t in pipeline_times],
        "bare_compute_s": [round(t, 2) for t in bare_times],
        "dag_parse": {
            path.name: parse_seconds(path) for path in sorted((ROOT / "dags").glob("*.py"))
        },
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"{len(os.sched_getaffinity(0))} cores",
    }
    write_results(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
