"""Scale: preprocessing, training and evaluation at 1x, 10x and 30x the Adult rows.

The rows are resampled with replacement (seed 0) into a CSV shaped like adult.csv; each step is
the program the job runs (preprocess.py, the built-in XGBoost algorithm with the seed's
hyperparameters, evaluate.py), in its own process, timed with its own peak memory. The growth
exponent is the least-squares slope of log(time) on log(rows): 1.0 is linear.

Run: `.venv/bin/python -m bench.scale [--factors 1,10,30]`; writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import machine, run_measured
from include.adult_income.sagemaker_requests import hyperparameters_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"
ADULT = ROOT / "include" / "data" / "adult.csv"
SCRIPTS = ROOT / "include" / "scripts"
ALGORITHM = ROOT / "emulator" / "algorithms" / "xgboost_builtin.py"
# The DAG's training job with default params: the same hyperparameters, as text.
DEFAULT_HYPERPARAMETERS = hyperparameters_for({})
STEPS = ("preprocess", "train", "evaluate")


def resampled(rows: int, target: Path) -> Path:
    frame = pd.read_csv(ADULT, dtype=str, keep_default_na=False)
    picked = np.random.default_rng(0).integers(0, len(frame), size=rows)
    target.mkdir(parents=True, exist_ok=True)
    frame.iloc[picked].to_csv(target / "adult.csv", index=False)
    return target


def steps(data: Path, work: Path) -> dict[str, list[str]]:
    config = work / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(DEFAULT_HYPERPARAMETERS))
    return {
        "preprocess": [
            sys.executable,
            str(SCRIPTS / "preprocess.py"),
            f"--input-dir={data}",
            *[f"--{s}-dir={work / 'data' / s}" for s in ("train", "validation", "test")],
            f"--schema-dir={work / 'schema'}",
            "--seed=42",
        ],
        "train": [
            sys.executable,
            str(ALGORITHM),
            f"--config-dir={config}",
            f"--data-dir={work / 'data'}",
            f"--model-dir={work / 'model'}",
            f"--output-dir={work / 'output'}",
        ],
        "evaluate": [
            sys.executable,
            str(SCRIPTS / "evaluate.py"),
            f"--model-dir={work / 'packaged'}",
            f"--test-dir={work / 'data' / 'test'}",
            f"--output-dir={work / 'evaluation'}",
        ],
    }


def package_model(work: Path) -> None:
    """evaluate.py reads model.tar.gz, as the training job leaves it."""
    (work / "packaged").mkdir(exist_ok=True)
    with tarfile.open(work / "packaged" / "model.tar.gz", "w:gz") as archive:
        archive.add(work / "model" / "xgboost-model", arcname="xgboost-model")


def exponent(rows: list[int], seconds: list[float]) -> float:
    slope, _ = np.polyfit([math.log(r) for r in rows], [math.log(s) for s in seconds], 1)
    return round(float(slope), 3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", default="1,10,30")
    args = parser.parse_args(argv)
    factors = [int(f) for f in args.factors.split(",")]
    base_rows = len(pd.read_csv(ADULT, usecols=[0]))
    points = []
    with tempfile.TemporaryDirectory() as scratch:
        for factor in factors:
            rows = base_rows * factor
            work = Path(scratch) / f"x{factor}"
            data = resampled(rows, work / "input")
            commands = steps(data, work)
            measured = {}
            for step in STEPS:
                if step == "evaluate":
                    package_model(work)
                result = run_measured(commands[step], cwd=ROOT)
                measured[step] = {"seconds": result.seconds, "peak_mb": result.peak_mb}
            evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
            total = round(sum(m["seconds"] for m in measured.values()), 3)
            points.append(
                {
                    "factor": factor,
                    "rows": rows,
                    "steps": measured,
                    "total_seconds": total,
                    "test_accuracy": round(evaluation["metrics"]["accuracy"]["value"], 4),
                }
            )
            print(f"{factor}x ({rows:,} rows): {measured} total {total} s", flush=True)
    rows = [p["rows"] for p in points]
    result = {
        "method": "rows resampled with replacement (seed 0); each step in its own process",
        "points": points,
        "growth_exponent": {
            **{s: exponent(rows, [p["steps"][s]["seconds"] for p in points]) for s in STEPS},
            "total": exponent(rows, [p["total_seconds"] for p in points]),
        },
        # Between the two largest sizes the fixed start-up (interpreter, imports) weighs less.
        "growth_exponent_largest_two": {
            **{
                s: exponent(rows[-2:], [p["steps"][s]["seconds"] for p in points[-2:]])
                for s in STEPS
            },
            "total": exponent(rows[-2:], [p["total_seconds"] for p in points[-2:]]),
        },
        "machine": machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["growth_exponent"]))
    return result


if __name__ == "__main__":
    main()
