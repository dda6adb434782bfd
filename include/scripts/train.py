"""Train the XGBoost classifier in script mode: the XGBoost 1.7-1 framework container runs this.

The SageMaker training toolkit starts it with the job's hyperparameters as ``--name value``
arguments (and JSON in ``SM_HPS``), the channels in ``SM_CHANNEL_TRAIN`` and
``SM_CHANNEL_VALIDATION`` and the model directory in ``SM_MODEL_DIR``. It keeps to Python 3.8
syntax and to the libraries that container ships (xgboost 1.7, pandas, numpy).

It does what the built-in XGBoost algorithm does with the same hyperparameters (the names the
DAG sends the built-in path, plus colsample_bytree, alpha and lambda): the channels are CSV
files with the label first and no header; each round prints one line in the built-in
container's format, ``[N]<TAB>train-logloss:0.41<TAB>validation-logloss:0.42`` (CloudWatch
shows the tabs as ``#011``, which ``METRIC_DEFINITIONS`` below match, as SageMaker's own
definitions for the algorithm do); ``early_stopping_rounds`` watches the last eval metric on the
validation channel; and the model is saved as ``xgboost-model`` with ``Booster.save_model``
(xgboost 1.7's binary format, what the built-in 1.7-1 algorithm writes), so evaluate.py,
hosting and inference.py load it unchanged.

SIGTERM (StopTrainingJob, or a tuning job stopping the job early) ends training after the
current round and saves that model, so a stopped job still has one.

A tuning job adds ``_tuning_objective_metric`` (e.g. ``validation:auc``): its metric is then
evaluated too, last, so early stopping watches it, as the built-in container does. The toolkit
keeps that hyperparameter for itself (it is in neither the arguments nor ``SM_HPS``), so it is
read from the job's ``hyperparameters.json`` in ``SM_INPUT_CONFIG_DIR``, as the built-in
container reads it.

Bad input (a missing channel, an unknown hyperparameter, an unreadable CSV) is written to
``/opt/ml/output/failure`` as ``ClientError: ...`` (SageMaker's FailureReason) and exits 1.
"""

import argparse
import contextlib
import json
import os
import signal
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import xgboost as xgb

MODEL_FILE = "xgboost-model"
# The metric definitions a training or tuning request gives for this script: the names the
# built-in algorithm's metrics have, the regexes SageMaker's own definitions use.
METRIC_PATTERN = r".*\[[0-9]+\].*#011{data}-{metric}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
METRIC_NAMES = ("logloss", "auc", "error", "aucpr")
METRIC_DEFINITIONS = [
    {"Name": "{}:{}".format(data, metric), "Regex": METRIC_PATTERN.format(data=data, metric=metric)}
    for data in ("train", "validation")
    for metric in METRIC_NAMES
]
# Hyperparameter -> its type; the same names as the built-in algorithm's.
HYPERPARAMETERS = {
    "num_round": int,
    "max_depth": int,
    "eta": float,
    "gamma": float,
    "min_child_weight": float,
    "subsample": float,
    "colsample_bytree": float,
    "alpha": float,
    "lambda": float,
    "scale_pos_weight": float,
    "max_delta_step": float,
    "objective": str,
    "eval_metric": str,
    "early_stopping_rounds": int,
    "seed": int,
    "_tuning_objective_metric": str,
}
KIND_NAMES = {int: "an integer", float: "a number", str: "text"}
DEFAULTS = {"objective": "binary:logistic", "eval_metric": "logloss", "num_round": 50}


class ClientError(Exception):
    """The job's input is wrong: the user fixes it, a retry does not."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Text here, typed by convert(): a bad value is the user's ClientError, not a usage exit.
    for name in HYPERPARAMETERS:
        parser.add_argument("--" + name, dest=name, default=None)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--output-dir", default=os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        names = sorted(part.lstrip("-").split("=")[0] for part in unknown if part.startswith("--"))
        raise ClientError(
            "unknown hyperparameter(s): {}; accepted: {}".format(
                ", ".join(names) or " ".join(unknown), ", ".join(sorted(HYPERPARAMETERS))
            )
        )
    return args


def hyperparameters(args: argparse.Namespace) -> Dict[str, object]:
    """SM_HPS (the toolkit's decoded hyperparameters), then the arguments, over the defaults."""
    chosen = dict(DEFAULTS)  # type: Dict[str, object]
    try:
        from_environment = json.loads(os.environ.get("SM_HPS") or "{}")
    except ValueError as exc:
        raise ClientError("SM_HPS is not JSON: {}".format(exc)) from exc
    for name, value in from_environment.items():
        if name in HYPERPARAMETERS and value is not None:
            chosen[name] = convert(name, value)
    for name in HYPERPARAMETERS:
        value = getattr(args, name)
        if value is not None:
            chosen[name] = convert(name, value)
    objective = tuning_objective()
    if objective and "_tuning_objective_metric" not in chosen:
        chosen["_tuning_objective_metric"] = objective
    return chosen


def tuning_objective() -> Optional[str]:
    """A tuning job's objective from hyperparameters.json (the SDK may JSON-encode values)."""
    config_dir = os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    try:
        with open(os.path.join(config_dir, "hyperparameters.json")) as handle:
            value = json.load(handle).get("_tuning_objective_metric")
    except (OSError, ValueError):
        return None
    if not isinstance(value, str) or not value:
        return None
    with contextlib.suppress(ValueError):
        decoded = json.loads(value)
        if isinstance(decoded, str):
            return decoded
    return value


def convert(name: str, value: object) -> object:
    kind = HYPERPARAMETERS[name]
    try:
        if kind is int and isinstance(value, str):
            return int(float(value))
        return kind(value)
    except (TypeError, ValueError):
        message = "hyperparameter {}: {!r} is not {}".format(name, value, KIND_NAMES[kind])
        raise ClientError(message) from None


def check(chosen: Dict[str, object]) -> None:
    """The ranges the built-in algorithm enforces for these hyperparameters."""
    limits = {
        "num_round": (1, None),
        "max_depth": (0, None),
        "eta": (0, 1),
        "gamma": (0, None),
        "min_child_weight": (0, None),
        "subsample": (0, 1),
        "colsample_bytree": (0, 1),
        "alpha": (0, None),
        "lambda": (0, None),
        "early_stopping_rounds": (1, None),
    }
    for name, (low, high) in limits.items():
        if name not in chosen:
            continue
        value = float(chosen[name])  # type: ignore[arg-type]
        if value < low or (high is not None and value > high):
            shown = "[{}, {}]".format(low, high if high is not None else "+inf")
            raise ClientError("hyperparameter {}: {} is outside {}".format(name, value, shown))
    for name in ("subsample", "colsample_bytree"):
        if name in chosen and float(chosen[name]) == 0:  # type: ignore[arg-type]
            raise ClientError("hyperparameter {}: must be greater than 0".format(name))


def read_channel(directory: Optional[str], channel: str) -> np.ndarray:
    """Every CSV file of a channel (label first, no header), stacked."""
    if not directory or not os.path.isdir(directory):
        raise ClientError("Missing required channel: {}".format(channel))
    files = sorted(
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if os.path.isfile(os.path.join(directory, name)) and not name.startswith(".")
    )
    if not files:
        raise ClientError("channel {}: no files in {}".format(channel, directory))
    parts = []  # type: List[np.ndarray]
    for path in files:
        try:
            frame = pd.read_csv(path, header=None)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ClientError(
                "channel {}: {}: {}".format(channel, os.path.basename(path), exc)
            ) from exc
        if frame.shape[1] < 2:
            raise ClientError(
                "channel {}: {}: needs a label and at least one feature per row".format(
                    channel, os.path.basename(path)
                )
            )
        try:
            parts.append(frame.to_numpy(dtype=float))
        except ValueError as exc:
            raise ClientError(
                "channel {}: {}: not numeric CSV: {}".format(channel, os.path.basename(path), exc)
            ) from exc
    widths = {part.shape[1] for part in parts}
    if len(widths) > 1:
        raise ClientError("channel {}: files have different widths {}".format(channel, widths))
    return np.vstack(parts)


def eval_metrics(chosen: Dict[str, object]) -> List[str]:
    metrics = [m for m in str(chosen.get("eval_metric") or "").split(",") if m]
    objective = chosen.get("_tuning_objective_metric")
    if objective:
        name = str(objective).rpartition(":")[2]
        metrics = [m for m in metrics if m != name] + [name]
    return metrics


class RoundLogger(xgb.callback.TrainingCallback):
    """One line per round, as the built-in algorithm prints it; after SIGTERM (StopTrainingJob,
    a tuning job stopping it early) training ends after the current round, so the model of
    the rounds done is saved and uploaded, within the grace SageMaker gives a stopped job."""

    def __init__(self) -> None:
        super().__init__()
        self.terminated = False

    def terminate(self, signum: int, frame: object) -> None:
        self.terminated = True

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: Dict) -> bool:
        parts = [
            "{}-{}:{:.5f}".format(data, metric, values[-1])
            for data, metrics in evals_log.items()
            for metric, values in metrics.items()
        ]
        print("[{}]\t{}".format(epoch, "\t".join(parts)), flush=True)
        if self.terminated:
            print("SIGTERM: saving the model of {} rounds".format(epoch + 1), flush=True)
        return self.terminated


def train(args: argparse.Namespace) -> xgb.Booster:
    chosen = hyperparameters(args)
    check(chosen)
    train_rows = read_channel(args.train, "train")
    validation_rows = read_channel(args.validation, "validation") if args.validation else None
    if validation_rows is not None and validation_rows.shape[1] != train_rows.shape[1]:
        raise ClientError(
            "channel validation has {} columns, train {}".format(
                validation_rows.shape[1], train_rows.shape[1]
            )
        )
    early_stopping = chosen.pop("early_stopping_rounds", None)
    if early_stopping and validation_rows is None:
        raise ClientError("early_stopping_rounds needs a validation channel")
    num_round = int(chosen.pop("num_round"))  # type: ignore[arg-type]
    params = {
        k: v for k, v in chosen.items() if k not in {"eval_metric", "_tuning_objective_metric"}
    }
    params["eval_metric"] = eval_metrics(chosen)
    print(
        "Train matrix has {} rows and {} columns".format(
            train_rows.shape[0], train_rows.shape[1] - 1
        ),
        flush=True,
    )
    dtrain = xgb.DMatrix(train_rows[:, 1:], label=train_rows[:, 0])
    evals = [(dtrain, "train")]
    if validation_rows is not None:
        evals.append(
            (xgb.DMatrix(validation_rows[:, 1:], label=validation_rows[:, 0]), "validation")
        )
    rounds = {"num_boost_round": num_round, "early_stopping_rounds": early_stopping}
    logger = RoundLogger()
    # Not in the main thread (a caller's own thread), no handler can be set: none is.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, logger.terminate)
    try:
        # RoundLogger prints each round, as the built-in algorithm does: XGBoost's own is off.
        return xgb.train(
            params, dtrain, evals=evals, verbose_eval=False, callbacks=[logger], **rounds
        )
    except xgb.core.XGBoostError as exc:
        raise ClientError(
            "XGBoost refused the hyperparameters: {}".format(first_line(exc))
        ) from exc


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def save(booster: xgb.Booster, model_dir: str) -> str:
    """``xgboost-model`` in the library's format for a name without extension, staged first."""
    os.makedirs(model_dir, exist_ok=True)
    staging = os.path.join(model_dir, ".xgboost-model.partial")
    booster.save_model(staging)
    target = os.path.join(model_dir, MODEL_FILE)
    os.replace(staging, target)
    return target


def report(output_dir: str, reason: str) -> None:
    print(reason, file=sys.stderr, flush=True)
    try:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "failure"), "w") as handle:
            handle.write(reason)
    except OSError as exc:
        print("cannot write the failure file: {}".format(exc), file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    output_dir = os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")
    try:
        args = parse_args(argv)
        output_dir = args.output_dir
        booster = train(args)
        path = save(booster, args.model_dir)
    except ClientError as exc:
        report(output_dir, "ClientError: {}".format(exc))
        return 1
    print("saved {} ({} trees)".format(path, booster.num_boosted_rounds()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
