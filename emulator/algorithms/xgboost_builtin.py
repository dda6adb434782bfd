"""The SageMaker built-in XGBoost algorithm's container contract, run with the xgboost library.

Reads /opt/ml/input/config/hyperparameters.json (all values are strings, as SageMaker passes
them), checks them as the algorithm does, trains on the ``train`` channel (CSV, label first, no
header), evaluates on ``validation`` when present, prints one line per round in the container's
format (``[3]#011train-logloss:0.41#011validation-logloss:0.42`` with a tab for ``#011``) and
saves ``/opt/ml/model/xgboost-model``. A bad hyperparameter or channel writes the reason to
/opt/ml/output/failure (SageMaker's FailureReason) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class ClientError(Exception):
    """A problem with the job's request or data, reported as SageMaker's ClientError."""


def integer(low: float = -math.inf, high: float = math.inf) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = float(text)
        if not value.is_integer():
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be in [{low}, {high}]")
        return int(value)

    return parse


def real(low: float = -math.inf, high: float = math.inf, *, open_low: bool = False) -> Callable:
    def parse(text: str) -> float:
        value = float(text)
        if math.isnan(value) or value > high or value < low or (open_low and value == low):
            bracket = "(" if open_low else "["
            raise ValueError(f"must be in {bracket}{low}, {high}]")
        return value

    return parse


def choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return text

    return parse


OBJECTIVES = (
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "reg:squarederror",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:tweedie",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "survival:cox",
)
METRICS = ("rmse", "rmsle", "mae", "mape", "logloss", "error", "merror", "mlogloss", "auc")

# The SageMaker XGBoost algorithm's hyperparameters, their types and ranges.
HYPERPARAMETERS: dict[str, Callable[[str], Any]] = {
    "num_round": integer(1),
    "num_class": integer(2),
    "objective": choice(*OBJECTIVES),
    "eta": real(0, 1),
    "gamma": real(0),
    "max_depth": integer(0),
    "min_child_weight": real(0),
    "max_delta_step": real(0),
    "subsample": real(0, 1, open_low=True),
    "colsample_bytree": real(0, 1, open_low=True),
    "colsample_bylevel": real(0, 1, open_low=True),
    "colsample_bynode": real(0, 1, open_low=True),
    "lambda": real(0),
    "alpha": real(0),
    "tree_method": choice("auto", "exact", "approx", "hist"),
    "sketch_eps": real(0, 1, open_low=True),
    "scale_pos_weight": real(0, open_low=True),
    "max_bin": integer(2),
    "max_leaves": integer(0),
    "grow_policy": choice("depthwise", "lossguide"),
    "base_score": real(),
    "seed": integer(),
    "verbosity": integer(0, 3),
    "eval_metric": str,
    "early_stopping_rounds": integer(1),
    "tweedie_variance_power": real(1, 2, open_low=True),
    "csv_weights": integer(0, 1),
}


def parse_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(HYPERPARAMETERS))
    if unknown:
        raise ClientError(
            "Hyperparameter(s) not supported by the XGBoost algorithm: " + ", ".join(unknown)
        )
    if "num_round" not in raw:
        raise ClientError("Missing required hyperparameter: num_round")
    parsed = {}
    for name, text in raw.items():
        try:
            parsed[name] = HYPERPARAMETERS[name](str(text))
        except ValueError as exc:
            raise ClientError(f"Hyperparameter {name}: value {text!r} is invalid: {exc}") from exc
    for metric in str(parsed.get("eval_metric", "")).split(","):
        if metric and metric.split("@")[0] not in METRICS:
            raise ClientError(f"Hyperparameter eval_metric: {metric!r} is not supported")
    if parsed.get("objective", "").startswith("multi:") and "num_class" not in parsed:
        raise ClientError("Hyperparameter num_class is required for objective multi:*")
    return parsed


def read_channel(directory: Path, channel: str) -> np.ndarray:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ClientError(f"Channel {channel}: no files found")
    blocks = []
    for path in files:
        try:
            block = np.loadtxt(path, delimiter=",", ndmin=2, dtype=float)
        except ValueError as exc:
            raise ClientError(
                f"Channel {channel}: {path.name} is not numeric CSV (label first, no header): {exc}"
            ) from exc
        if block.size:
            blocks.append(block)
    if not blocks:
        raise ClientError(f"Channel {channel}: files are empty")
    widths = {block.shape[1] for block in blocks}
    if len(widths) != 1:
        raise ClientError(f"Channel {channel}: files have different numbers of columns {widths}")
    return np.vstack(blocks)


def train(config_dir: Path, data_dir: Path, model_dir: Path) -> None:
    import xgboost as xgb

    raw = json.loads((config_dir / "hyperparameters.json").read_text())
    params = parse_hyperparameters(raw)
    num_round = params.pop("num_round")
    early_stopping = params.pop("early_stopping_rounds", None)
    params.pop("csv_weights", None)
    if "eval_metric" in params:
        params["eval_metric"] = params["eval_metric"].split(",")
    if not (data_dir / "train").is_dir():
        raise ClientError("Channel train is required")
    train_data = read_channel(data_dir / "train", "train")
    evals = [(xgb.DMatrix(train_data[:, 1:], label=train_data[:, 0]), "train")]
    if (data_dir / "validation").is_dir():
        validation = read_channel(data_dir / "validation", "validation")
        if validation.shape[1] != train_data.shape[1]:
            raise ClientError(
                f"Channel validation has {validation.shape[1]} columns, train has "
                f"{train_data.shape[1]}"
            )
        evals.append((xgb.DMatrix(validation[:, 1:], label=validation[:, 0]), "validation"))
    elif early_stopping:
        raise ClientError("early_stopping_rounds needs a validation channel")
    print(f"Train matrix has {train_data.shape[0]} rows and {train_data.shape[1] - 1} columns")

    class RoundLogger(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            parts = [
                f"{data}-{metric}:{values[-1]:.5f}"
                for data, metrics in evals_log.items()
                for metric, values in metrics.items()
            ]
            print(f"[{epoch}]\t" + "\t".join(parts), flush=True)
            return False

    booster = xgb.train(
        params,
        evals[0][0],
        num_boost_round=num_round,
        evals=evals,
        early_stopping_rounds=early_stopping,
        verbose_eval=False,
        callbacks=[RoundLogger()],
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    # UBJSON: what xgboost saves by default, and loadable by the 1.7 container's library.
    staging = model_dir / "xgboost-model.ubj"
    booster.save_model(str(staging))
    os.replace(staging, model_dir / "xgboost-model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-dir", default="/opt/ml/input/config")
    parser.add_argument("--data-dir", default="/opt/ml/input/data")
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--output-dir", default="/opt/ml/output")
    args = parser.parse_args(argv)
    try:
        train(Path(args.config_dir), Path(args.data_dir), Path(args.model_dir))
    except ClientError as exc:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_dir) / "failure").write_text(f"ClientError: {exc}")
        print(f"ClientError: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
