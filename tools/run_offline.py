"""`make run [PIPELINE=main|native] [DATE=YYYY-MM-DD] [CONF='{...}'] [INPUT=file.csv]`: one DAG
run, offline.

Refuses a conf the DAG would refuse (unknown keys, non-finite numbers) before starting anything;
starts the emulator on the local account's data dir (or joins the one `make airflow` runs),
seeds the date's input partition from include/data (or from INPUT), runs the DAG end to end as
`airflow dags test` does, but timed as it really runs (tools/dag_test), stops the emulator,
prints the run's summary and writes it to .local/runs/<run_id>/summary.json with
evaluation.json and model.tar.gz beside it. Exits non-zero when the run failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulator.process import EmulatorProcess
from include.adult_income.params import conf_problems, native_pipeline_params, pipeline_params
from include.adult_income.report import REPORT_FILES
from tools import offline
from tools.offline import ADULT_CSV, LOCAL, OFFLINE_BUCKET, OFFLINE_PREFIX, aws_client

DAG_IDS = {"main": "adult_income_pipeline", "native": "adult_income_native_pipeline"}
DAG_PARAMS = {"main": pipeline_params, "native": native_pipeline_params}


def safe_dir_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def find_summary(endpoint_url: str, dag_id: str, date: str) -> dict[str, Any] | None:
    """The newest summary.json the DAG's summary task wrote for ``date``, if any.

    `airflow dags test` names its run after the wall clock, so the run is found by its
    logical date, not by a run id known in advance.
    """
    s3 = aws_client("s3", endpoint_url)
    paginator = s3.get_paginator("list_objects_v2")
    found: list[tuple[Any, dict[str, Any]]] = []
    for page in paginator.paginate(Bucket=OFFLINE_BUCKET, Prefix=f"{OFFLINE_PREFIX}/runs/"):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/summary.json"):
                continue
            body = s3.get_object(Bucket=OFFLINE_BUCKET, Key=item["Key"])["Body"].read()
            summary = json.loads(body)
            if summary.get("dag_id") == dag_id and summary.get("logical_date") == date:
                found.append((item["LastModified"], summary))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def download(endpoint_url: str, uri: str | None, target: Path) -> bool:
    if not uri or not uri.startswith("s3://"):
        return False
    bucket, _, key = uri[len("s3://") :].partition("/")
    aws_client("s3", endpoint_url).download_file(bucket, key, str(target))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", choices=sorted(DAG_IDS), default="main")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="logical date")
    parser.add_argument("--conf", default="{}", help="run conf JSON (the DAG's params)")
    parser.add_argument(
        "--state-dir", type=Path, default=LOCAL, help="where runs, Airflow's DB and logs go"
    )
    parser.add_argument(
        "--input", type=Path, default=None, help="a local CSV to seed the date's input with"
    )
    args = parser.parse_args(argv)
    try:
        dt.date.fromisoformat(args.date)
    except ValueError:
        parser.error(f"DATE must be YYYY-MM-DD, got {args.date!r}")
    try:
        conf = json.loads(args.conf)
    except ValueError as exc:
        parser.error(f"CONF is not valid JSON: {exc}")
    if not isinstance(conf, dict):
        parser.error("CONF must be a JSON object")
    problems = conf_problems(conf, set(DAG_PARAMS[args.pipeline]()))
    if conf.get("human_approval"):
        # `airflow dags test` has no UI to answer in, nor a scheduler to time the question out:
        # the run would wait for ever.
        problems.append(
            "human_approval waits for a person's answer in the Airflow UI: trigger the run from "
            "`make airflow` instead"
        )
    if problems:
        print(f"conf refused before any task ran: {'; '.join(problems)}", file=sys.stderr)
        return 1
    if args.input is not None and not args.input.is_file():
        parser.error(f"INPUT {args.input} is not a file")

    dag_id = DAG_IDS[args.pipeline]
    local = args.state_dir
    work_dir = local / "runs" / "latest"
    work_dir.mkdir(parents=True, exist_ok=True)

    with EmulatorProcess(local / "emulator", log_path=work_dir / "emulator.log") as emulator:
        if emulator.joined:  # an earlier, failed run's log is not this run's
            (work_dir / "emulator.log").unlink(missing_ok=True)
        env = offline.offline_environment(emulator.url, local / "airflow")
        offline.ensure_airflow_db(env)
        input_uri = offline.seed_input(emulator.url, args.date, source=args.input or ADULT_CSV)
        print(f"emulator: {emulator.url}; input: {input_uri}", flush=True)
        # `airflow dags test` would date the run's start at midnight of its logical date;
        # tools/dag_test runs it the same way, timed when it really runs.
        run_after = dt.datetime.now(dt.UTC).isoformat()
        command = [sys.executable, "-m", "tools.dag_test", dag_id, args.date]
        command += ["--run-after", run_after, "--conf", json.dumps(conf)]
        with (work_dir / "airflow.log").open("w") as log:
            result = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        summary = find_summary(emulator.url, dag_id, args.date)
        run_dir = work_dir
        if summary is not None:
            run_dir = local / "runs" / safe_dir_name(summary["run_id"])
            run_dir.mkdir(parents=True, exist_ok=True)
            # A joined emulator (`make airflow`'s) logs to its own file, not to this run's.
            for name in ("airflow.log", "emulator.log"):
                if (work_dir / name).exists():
                    (work_dir / name).replace(run_dir / name)
            download(emulator.url, summary.get("evaluation_uri"), run_dir / "evaluation.json")
            download(emulator.url, summary.get("model_uri"), run_dir / "model.tar.gz")
            report = summary.get("report_uri")
            if report:  # report.html and its PNGs, beside summary.json
                for name in REPORT_FILES:
                    download(emulator.url, report.rsplit("/", 1)[0] + f"/{name}", run_dir / name)
            (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    if result.returncode != 0 or summary is None:
        log_lines = (run_dir / "airflow.log").read_text(errors="replace").splitlines()
        print("\n".join(log_lines[-40:]), file=sys.stderr)
        refused = [line for line in log_lines if "ParamValidationError:" in line]
        if refused:
            # A bad conf is refused before any task runs: say so plainly.
            reason = refused[-1].split("ParamValidationError:")[1].strip()
            print(f"\nconf refused before any task ran: {reason}", file=sys.stderr)
        print(
            f"\nrun FAILED (airflow exit code {result.returncode}); "
            f"full log: {run_dir / 'airflow.log'}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(summary, indent=2))
    print(f"\nrun {summary.get('decision', '?')}: {run_dir / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
