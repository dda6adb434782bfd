"""InvokeEndpoint over loopback: requests per second and p50/p99 latency for single-row and
100-row text/csv payloads, beside scoring the same payload with the booster in-process (what
the endpoint adds: HTTP, botocore, the pipe to the model-server worker, parsing).

The model is the seed's XGBoost (50 rounds) trained on preprocess.py's output; the endpoint
has one instance (one worker) and the client calls it sequentially, then from 4 threads.

Run: `.venv/bin/python -m bench.invoke_endpoint [--requests N]`; writes
bench/results/invoke_endpoint.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import numpy as np
import xgboost as xgb
from botocore.config import Config

from bench.measure import write_results
from emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "invoke_endpoint.json"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PARAMS = {"objective": "binary:logistic", "max_depth": 5, "eta": 0.3, "eval_metric": "logloss"}
THREADS = 4


def processed_test_rows(work: Path) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) from preprocess.py on the bundled data, label first."""
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            str(ROOT / "include" / "scripts" / "preprocess.py"),
            f"--input-dir={ROOT / 'include' / 'data'}",
            *[f"--{split}-dir={work / split}" for split in ("train", "validation", "test")],
            f"--schema-dir={work / 'schema'}",
        ],
        check=True,
        capture_output=True,
    )
    load = lambda split: np.loadtxt(work / split / f"{split}.csv", delimiter=",")  # noqa: E731
    return load("train"), load("test")


def model_archive(booster: xgb.Booster, work: Path) -> bytes:
    """model.tar.gz as the built-in algorithm writes it: the booster as ``xgboost-model``."""
    model = work / "model.ubj"  # the extension picks the format; the archive's name is fixed
    booster.save_model(str(model))
    with tarfile.open(work / "model.tar.gz", "w:gz") as archive:
        archive.add(model, arcname="xgboost-model")
    return (work / "model.tar.gz").read_bytes()


def csv_payload(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(call, requests: int, threads: int = 1) -> dict:
    latencies: list[float] = []

    def one(_: int) -> None:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)

    for _ in range(5):  # warm-up: connections, first DMatrix
        call()
    started = time.perf_counter()
    if threads == 1:
        for index in range(requests):
            one(index)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "threads": threads,
        "requests_per_second": round(requests / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as work_dir,
        EmulatorServer(Path(work_dir) / "emulator", port=0) as server,
    ):
        work = Path(work_dir)
        train, test = processed_test_rows(work)
        local = xgb.train(PARAMS, xgb.DMatrix(train[:, 1:], label=train[:, 0]), 50)
        kwargs = {
            "endpoint_url": server.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
            "config": Config(max_pool_connections=THREADS * 2, retries={"max_attempts": 1}),
        }
        s3, sagemaker = boto3.client("s3", **kwargs), boto3.client("sagemaker", **kwargs)
        runtime = boto3.client("sagemaker-runtime", **kwargs)
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="model.tar.gz", Body=model_archive(local, work))
        sagemaker.create_model(
            ModelName="bench",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bench/model.tar.gz"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="bench",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        while sagemaker.describe_endpoint(EndpointName="bench")["EndpointStatus"] == "Creating":
            time.sleep(0.05)
        result: dict = {}
        for label, rows in (("single_row", test[:1, 1:]), ("rows_100", test[:100, 1:])):
            body = csv_payload(rows)

            def call(body: str = body) -> None:
                runtime.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")[
                    "Body"
                ].read()

            def in_process(rows: np.ndarray = rows) -> None:
                local.predict(xgb.DMatrix(rows))

            result[label] = {
                "sequential": measure(call, args.requests),
                "concurrent": measure(call, args.requests, THREADS),
                "in_process_booster": measure(in_process, args.requests),
            }
    result["machine"] = (
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"{len(os.sched_getaffinity(0))} cores"
    )
    result["endpoint"] = "1 instance (one model-server worker), built-in XGBoost, text/csv"
    write_results(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
