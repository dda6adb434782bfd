"""Quality: the seed's hyperparameters over 20 split seeds, beside a tuned setting with early
stopping on the validation split, and beside the model the pipeline's own tuning job picks (over
fewer split seeds: each is a real tuning job), against published figures for Adult.

Each seed re-runs preprocess.py's split (same cleaning and train-only encoding) and scores the
test split with evaluate.py's own metric function, so the numbers mean what the pipeline's
evaluation.json means. Training calls xgboost in-process with the parameters the built-in
algorithm uses.

The "tuned by the pipeline's tuning job" row runs, for each of its split seeds, the tuning job
the DAG plans with ``tuning_max_jobs`` 8 and ``tuning_max_parallel_jobs`` 2 (the tune and
evaluate requests of tasks.plan_requests: the built-in algorithm, Bayesian search over
tuning_requests.py's ranges, validation AUC as the objective) in an in-process emulator on that
split, then the pipeline's evaluate job on its best training job's model: its accuracy and ROC
AUC are evaluation.json's, its rounds those the job's log shows it trained. The tuning job's
wall time is from CreateHyperParameterTuningJob to its end.

Run: `.venv/bin/python -m bench.quality [--seeds 20] [--tuning-splits 5]`; writes
bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import xgboost as xgb

from bench.measure import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "quality.json"
SCRIPTS = ROOT / "include" / "scripts"
DEFAULT_SETTING = {
    "params": {
        "objective": "binary:logistic",
        "max_depth": 5,
        "eta": 0.3,
        "subsample": 1.0,
        "eval_metric": "logloss",
    },
    "num_round": 50,
    "early_stopping_rounds": None,
}
# Smaller steps, more rounds, row and column sampling; the validation split decides when to stop.
TUNED_SETTING = {
    "params": {
        "objective": "binary:logistic",
        "max_depth": 6,
        "eta": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 1,
        "eval_metric": "logloss",
    },
    "num_round": 2000,
    "early_stopping_rounds": 50,
}
PIPELINE_ROW = "tuned by the pipeline's tuning job"
PIPELINE_DAG = "adult_income_pipeline"
# The DAG's conf for the row: what `make run CONF='{"tuning_max_jobs": 8, ...}'` runs.
PIPELINE_TUNING = {
    "tuning_max_jobs": 8,
    "tuning_max_parallel_jobs": 2,
    "tuning_strategy": "Bayesian",
    "tuning_objective": "validation:auc",
}
BENCH_BUCKET = "bench-quality"
BENCH_ROLE = "arn:aws:iam::123456789012:role/BenchQuality"
REFERENCES = [
    {
        "what": "this protocol, seed hyperparameters, 20 random splits (project reference)",
        "accuracy": "0.869 ± 0.003 (0.862 to 0.875)",
        "roc_auc": "≈ 0.926",
    },
    {
        "what": "Kohavi (1996), NBTree / C4.5 on the UCI train/test split (adult.names)",
        "accuracy": "0.859 / 0.845",
        "roc_auc": "—",
    },
    {
        "what": "Prokhorenkova et al. (2018), CatBoost / XGBoost / LightGBM, tuned, UCI split",
        "accuracy": "≈ 0.87 (zero-one loss ≈ 0.127 to 0.130)",
        "roc_auc": "—",
    },
    {"what": "always predicting <=50K", "accuracy": "0.751", "roc_auc": "0.5"},
]


def load_script(name: str) -> ModuleType:
    """include/scripts/<name>.py as a module of its own (the scripts are not a package)."""
    path = SCRIPTS / f"{name}.py"
    module = ModuleType(f"bench_{name}")
    module.__file__ = str(path)
    exec(compile(path.read_text(), path, "exec"), module.__dict__)
    return module


def split(preprocess: ModuleType, seed: int, out: Path) -> None:
    args = [f"--input-dir={ROOT / 'include' / 'data'}", f"--schema-dir={out / 'schema'}"]
    args += [f"--{s}-dir={out / s}" for s in ("train", "validation", "test")]
    args += [f"--seed={seed}"]
    if preprocess.main(args) != 0:
        raise RuntimeError(f"preprocess.py failed for seed {seed}")


def matrix(path: Path) -> xgb.DMatrix:
    rows = np.loadtxt(path, delimiter=",")
    return xgb.DMatrix(rows[:, 1:], label=rows[:, 0])


def train(setting: dict[str, Any], out: Path, seed: int) -> tuple[xgb.Booster, int]:
    train_set = matrix(out / "train" / "train.csv")
    validation = matrix(out / "validation" / "validation.csv")
    params = {**setting["params"], "seed": seed}
    booster = xgb.train(
        params,
        train_set,
        setting["num_round"],
        evals=[(validation, "validation")],
        early_stopping_rounds=setting["early_stopping_rounds"],
        verbose_eval=False,
    )
    if setting["early_stopping_rounds"]:
        rounds = booster.best_iteration + 1
        return booster[:rounds], rounds  # score with the best round, not the last
    return booster, setting["num_round"]


def wait(describe: Any, status_key: str, limit: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        description = describe()
        if description[status_key] not in {"InProgress", "Stopping"}:
            return description
        if time.monotonic() > deadline:
            raise RuntimeError(f"still {description[status_key]} after {limit:g}s")
        time.sleep(1)


def rounds_trained(logs: Any, job_name: str) -> int:
    """How many rounds the training job ran (early stopping included): the last round the
    algorithm logged, ``[<round>]`` then its metrics, counted from 0."""
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")
    events = logs.get_log_events(
        logGroupName=group, logStreamName=streams["logStreams"][0]["logStreamName"]
    )["events"]
    logged = [re.match(r"\[(\d+)\]\t", event["message"]) for event in events]
    return max(int(match.group(1)) for match in logged if match) + 1


def upload_split(s3: Any, out: Path, layout: Any) -> None:
    """preprocess.py's outputs where the run's layout reads them, and evaluate's code."""
    from include.adult_income import champion

    for name in ("train", "validation", "test", "schema"):
        for path in sorted((out / name).iterdir()):
            key = f"{layout.data_uri(name).split('/', 3)[3]}/{path.name}"
            s3.upload_file(str(path), BENCH_BUCKET, key)
    code_prefix = layout.code_uri.split("/", 3)[3]
    for script in ("evaluate.py", champion.NO_CHAMPION_MARKER):
        s3.upload_file(str(SCRIPTS / script), BENCH_BUCKET, f"{code_prefix}/{script}")


def pipeline_tuning(preprocess: ModuleType, splits: int) -> list[dict[str, Any]]:
    """Per split seed: the DAG's tuning job in an emulator, then its evaluate job on the best
    training job's model (see the module's docstring)."""
    import boto3

    from emulator.server import EmulatorServer
    from include.adult_income import params, sagemaker_requests, tasks

    rows: list[dict[str, Any]] = []
    images = tasks.resolve_images("us-east-1")
    with (
        tempfile.TemporaryDirectory() as data_dir,
        EmulatorServer(
            Path(data_dir), port=0, max_jobs=PIPELINE_TUNING["tuning_max_parallel_jobs"]
        ) as server,
    ):
        session = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        )
        s3 = session.client("s3", endpoint_url=server.url)
        sagemaker = session.client("sagemaker", endpoint_url=server.url)
        logs = session.client("logs", endpoint_url=server.url)
        s3.create_bucket(Bucket=BENCH_BUCKET)
        for seed in range(splits):
            layout = sagemaker_requests.RunLayout(
                input_uri=f"s3://{BENCH_BUCKET}/raw/", run_uri=f"s3://{BENCH_BUCKET}/split-{seed}"
            )
            with tempfile.TemporaryDirectory() as scratch:
                split(preprocess, seed, Path(scratch))
                upload_split(s3, Path(scratch), layout)
            conf = {k: p.value for k, p in params.pipeline_params().items()}
            conf.update(PIPELINE_TUNING, seed=seed)
            # The DAG's own plan for a run with this conf, no champion: its tune and evaluate
            # requests, evaluate bound to the best training job's model as the DAG binds it.
            context = {
                "params": conf,
                "dag": SimpleNamespace(dag_id=PIPELINE_DAG),
                "run_id": f"bench-split-{seed}",
            }
            plan = tasks.plan_requests(
                context, SimpleNamespace(role_arn=BENCH_ROLE), layout, images
            )
            tune = plan[tasks.TUNE_TASK]
            name = tune["HyperParameterTuningJobName"]
            started = time.perf_counter()
            sagemaker.create_hyper_parameter_tuning_job(**tune)
            tuning = wait(
                lambda name=name: sagemaker.describe_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=name
                ),
                "HyperParameterTuningJobStatus",
            )
            seconds = time.perf_counter() - started
            if tuning["HyperParameterTuningJobStatus"] != "Completed":
                raise RuntimeError(f"tuning job {name}: {tuning['HyperParameterTuningJobStatus']}")
            best = tuning["BestTrainingJob"]
            trained = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
            planned_evaluate = dict(plan[tasks.EVALUATE_TASK])
            planned_evaluate.pop("S3Operations")  # upload_split put evaluate's code in place
            evaluate = sagemaker_requests.with_model_artifact(
                planned_evaluate, trained["ModelArtifacts"]["S3ModelArtifacts"]
            )
            sagemaker.create_processing_job(**evaluate)
            job = evaluate["ProcessingJobName"]
            ended = wait(
                lambda job=job: sagemaker.describe_processing_job(ProcessingJobName=job),
                "ProcessingJobStatus",
            )
            if ended["ProcessingJobStatus"] != "Completed":
                raise RuntimeError(f"evaluate job {job}: {ended.get('FailureReason')}")
            key = f"{layout.evaluation_uri.split('/', 3)[3]}/evaluation.json"
            body = s3.get_object(Bucket=BENCH_BUCKET, Key=key)["Body"].read()
            metrics = json.loads(body)["metrics"]
            rows.append(
                {
                    "split_seed": seed,
                    "accuracy": metrics["accuracy"]["value"],
                    "roc_auc": metrics["roc_auc"]["value"],
                    "rounds": rounds_trained(logs, best["TrainingJobName"]),
                    "tuning_seconds": round(seconds, 1),
                    "best_training_job": best["TrainingJobName"],
                    "tuned_hyperparameters": best["TunedHyperParameters"],
                    "objective": best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                    "training_jobs": tuning["TrainingJobStatusCounters"],
                }
            )
            print(
                f"split {seed}: tuning job {seconds:.0f}s, best {best['TrainingJobName']} "
                f"accuracy {rows[-1]['accuracy']:.4f} roc_auc {rows[-1]['roc_auc']:.4f}",
                flush=True,
            )
    return rows


def summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.mean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--tuning-splits",
        type=int,
        default=5,
        help="split seeds for the pipeline's tuning job row (each runs a tuning job; 0: skip)",
    )
    args = parser.parse_args(argv)
    preprocess, evaluate = load_script("preprocess"), load_script("evaluate")
    runs: dict[str, list[dict[str, float]]] = {"default": [], "tuned": []}
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch)
            split(preprocess, seed, out)
            test = evaluate.read_test(str(out / "test"))
            for name, setting in (("default", DEFAULT_SETTING), ("tuned", TUNED_SETTING)):
                booster, rounds = train(setting, out, seed)
                metrics = evaluate.evaluate(booster, test, 0.5)["metrics"]
                runs[name].append(
                    {
                        "split_seed": seed,
                        "accuracy": metrics["accuracy"]["value"],
                        "roc_auc": metrics["roc_auc"]["value"],
                        "rounds": rounds,
                    }
                )
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]['accuracy']:.4f}" for k, v in runs.items()))
    settings: dict[str, Any] = {"default": DEFAULT_SETTING, "tuned": TUNED_SETTING}
    if args.tuning_splits > 0:
        runs[PIPELINE_ROW] = pipeline_tuning(preprocess, args.tuning_splits)
        settings[PIPELINE_ROW] = {**PIPELINE_TUNING, "splits": args.tuning_splits}
    result = {
        "splits": args.seeds,
        "settings": settings,
        "results": {
            name: {
                "accuracy": summary([r["accuracy"] for r in rows]),
                "roc_auc": summary([r["roc_auc"] for r in rows]),
                "rounds": summary([float(r["rounds"]) for r in rows]),
                **(
                    {"tuning_seconds": summary([r["tuning_seconds"] for r in rows])}
                    if name == PIPELINE_ROW
                    else {}
                ),
                "runs": rows,
            }
            for name, rows in runs.items()
        },
        "references": REFERENCES,
        "machine": machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name in runs:
        print(name, result["results"][name]["accuracy"], result["results"][name]["roc_auc"])
    return result


if __name__ == "__main__":
    main()
