"""`make bench`: run every benchmark, then regenerate docs/BENCHMARKS.md and its plots.

`python -m bench [--only end_to_end,scale] [--render-only]`. Each benchmark writes
bench/results/<name>.json; the document is rendered from those files only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import time

from bench import render
from bench.measure import machine

BENCHMARKS = (
    "emulator_job_overhead",
    "emulator_durability",
    "invoke_endpoint",
    "end_to_end",
    "scale",
    "quality",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--render-only", action="store_true", help="just re-render the doc")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if not args.render_only:
        started = time.perf_counter()
        durations = {}
        for name in chosen:
            print(f"== bench.{name}", flush=True)
            begun = time.perf_counter()
            importlib.import_module(f"bench.{name}").main([])
            durations[name] = round(time.perf_counter() - begun, 1)
        run = {
            "date": dt.date.today().isoformat(),
            "benchmarks": durations,
            "total_seconds": round(time.perf_counter() - started, 1),
            "complete": chosen == list(BENCHMARKS),
            "machine": machine(),
        }
        if run["complete"]:
            render.RESULTS.joinpath("bench_run.json").write_text(json.dumps(run, indent=2) + "\n")
    path = render.render()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
