"""The SageMaker built-in XGBoost algorithm's container contract, run with the xgboost library.

Reads /opt/ml/input/config/hyperparameters.json (all values are strings, as SageMaker passes
them), checks them as the algorithm does, trains on the ``train`` channel (CSV, label first, no
header), evaluates on ``validation`` when present, prints one line per round in the container's
format (``[3]#011train-logloss:0.41#011validation-logloss:0.42`` with a tab for ``#011``) and
saves ``/opt/ml/model/xgboost-model``.

A failure is one sentence in /opt/ml/output/failure (SageMaker's FailureReason) and on stderr,
and exit code 1, as the real container (aws/sagemaker-xgboost-container) reports it: its
``UserError`` (bad hyperparameters or data: the user's to fix) shows as ``ClientError: ...``, its
``AlgorithmError`` (anything else) as ``AlgorithmError: ...``. Wording follows that container's
where it has one (``Extraneous hyperparameter found``, ``Missing required hyperparameter``,
``Hyperparameter x: v is not in [0, +inf)``, ``No data in training channel path``, ``XGB train
call failed with exception``); data errors name the channel, file, line and column, which the
real container leaves to XGBoost's own messages.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

CONTAINER_DATA_DIR = "/opt/ml/input/data"
EXIT_FAILURE = 1


class ClientError(Exception):
    """The user's to fix (hyperparameters, data): the container's UserError, SageMaker's
    ClientError."""


class AlgorithmError(Exception):
    """Anything else that stops training, reported as SageMaker's AlgorithmError."""


def one_line(text: str) -> str:
    """Whitespace collapsed: a FailureReason sentence is one line."""
    return " ".join(str(text).split())


def shown(value: str, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters, so a bad field cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "..." + text[-1]


# --- hyperparameters ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A numeric range, printed as the container's toolkit prints one: ``(0, 1]``, ``[1, +inf)``."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def __str__(self) -> str:
        def bound(value: float) -> str:
            if math.isinf(value):
                return "+inf" if value > 0 else "-inf"
            return f"{value:g}"

        left = "(" if self.open_low or math.isinf(self.low) else "["
        right = ")" if self.open_high or math.isinf(self.high) else "]"
        return f"{left}{bound(self.low)}, {bound(self.high)}{right}"


@dataclass(frozen=True)
class Hyperparameter:
    """How to read one hyperparameter: ``kind`` is int, float, choice or text."""

    kind: str
    interval: Interval = Interval()
    options: tuple[str, ...] = ()

    def parse(self, name: str, text: str) -> Any:
        if self.kind == "text":
            return text
        if self.kind == "choice":
            if text not in self.options:
                raise ClientError(
                    f"Hyperparameter {name}: {text} is not in [{', '.join(self.options)}]"
                )
            return text
        expected = "an integer" if self.kind == "int" else "a number"
        try:
            value = float(text)
        except ValueError:
            raise ClientError(
                f"Hyperparameter {name}: could not parse value {shown(text)} as {expected}"
            ) from None
        if self.kind == "int" and not value.is_integer():
            raise ClientError(
                f"Hyperparameter {name}: could not parse value {shown(text)} as {expected}"
            )
        if value not in self.interval:
            raise ClientError(f"Hyperparameter {name}: {text} is not in {self.interval}")
        return int(value) if self.kind == "int" else value


def integer(low: float = -math.inf, high: float = math.inf) -> Hyperparameter:
    return Hyperparameter("int", Interval(low, high))


def real(
    low: float = -math.inf, high: float = math.inf, *, open_low: bool = False
) -> Hyperparameter:
    return Hyperparameter("float", Interval(low, high, open_low=open_low))


def choice(*options: str) -> Hyperparameter:
    return Hyperparameter("choice", options=options)


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

# The SageMaker XGBoost algorithm's hyperparameters that are emulated, their types and ranges.
HYPERPARAMETERS: dict[str, Hyperparameter] = {
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
    "eval_metric": Hyperparameter("text"),
    "early_stopping_rounds": integer(1),
    "tweedie_variance_power": real(1, 2, open_low=True),
    "csv_weights": integer(0, 1),
}
# Accepted by the real algorithm but not emulated: refusing them is the emulator's limit, not the
# user's mistake, so it is no ClientError.
NOT_EMULATED = frozenset(
    {
        "booster",
        "nthread",
        "updater",
        "dsplit",
        "refresh_leaf",
        "process_type",
        "predictor",
        "monotone_constraints",
        "interaction_constraints",
        "sample_type",
        "normalize_type",
        "rate_drop",
        "one_drop",
        "skip_drop",
        "lambda_bias",
        "num_parallel_tree",
        "save_model_on_termination",
        "aft_loss_distribution",
        "aft_loss_distribution_scale",
        "single_precision_histogram",
        "deterministic_histogram",
        "sampling_method",
        "prob_buffer_row",
        "_kfold",
        "_num_cv_round",
        "_tuning_objective_metric",
        "learning_rate",
        "min_split_loss",
        "reg_lambda",
        "reg_alpha",
    }
)


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters, typed; the first problem raises ClientError naming it."""
    if "num_round" not in raw:
        raise ClientError("Missing required hyperparameter: num_round")
    unknown = sorted(set(raw) - set(HYPERPARAMETERS))
    if unknown:
        not_emulated = [name for name in unknown if name in NOT_EMULATED]
        extraneous = [name for name in unknown if name not in NOT_EMULATED]
        if extraneous:
            raise ClientError(
                f"Extraneous hyperparameter found: {', '.join(extraneous)}. The XGBoost "
                f"algorithm accepts: {', '.join(sorted(HYPERPARAMETERS))}"
            )
        raise AlgorithmError(
            f"Hyperparameter {', '.join(not_emulated)} of the XGBoost algorithm is not emulated"
        )
    parsed = {name: HYPERPARAMETERS[name].parse(name, str(text)) for name, text in raw.items()}
    for metric in str(parsed.get("eval_metric", "")).split(","):
        if metric and metric.split("@")[0] not in METRICS:
            raise ClientError(
                f"Hyperparameter eval_metric: {shown(metric)} is not supported; "
                f"supported: {', '.join(METRICS)}"
            )
    if parsed.get("objective", "").startswith("multi:") and "num_class" not in parsed:
        raise ClientError("Require input for parameter 'num_class' for multi-classification")
    return parsed


# --- data ---------------------------------------------------------------------------------------
# A problem with a label (a float) for the objective, or None: checked on every row.
if TYPE_CHECKING:  # subscripting collections.abc.Callable fails at run time before Python 3.9
    LabelCheck = Callable[[float], "str | None"]


def label_check(params: dict[str, Any]) -> LabelCheck | None:
    """What the objective requires of a label, checked before XGBoost sees the data."""
    objective = params.get("objective", "reg:squarederror")
    if objective in ("binary:logistic", "binary:logitraw", "reg:logistic"):

        def logistic(label: float) -> str | None:
            if 0 <= label <= 1:
                return None
            return f"label {label:g} is not in [0, 1], as objective {objective} requires"

        return logistic
    if objective.startswith("multi:"):
        classes = int(params["num_class"])

        def multiclass(label: float) -> str | None:
            if label.is_integer() and 0 <= label < classes:
                return None
            return (
                f"label {label:g} is not a class in [0, {classes}) "
                f"(num_class {classes}, objective {objective})"
            )

        return multiclass
    return None


@dataclass(frozen=True)
class Width:
    """The number of columns rows must have, and where that was first seen (``line 1``,
    ``file a.csv``, ``channel train``)."""

    columns: int
    where: str


def channel_path(channel: str) -> str:
    """The container path of a channel, as the real container's messages show it."""
    return f"{CONTAINER_DATA_DIR}/{channel}"


def data_files(directory: Path) -> list[Path]:
    # The real container skips hidden files and ``_``-prefixed ones (``_SUCCESS`` markers).
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
    )


def read_exactly(
    path: Path, channel: str, width: Width | None, check: LabelCheck | None
) -> np.ndarray:
    """A CSV file row by row; the first bad row raises ClientError naming channel, file, line
    (1-based, physical: blank lines count and are skipped) and column (1-based, label first).

    Slow: run only on a file the fast reading refused or found bad values in.
    """
    rows: list[list[float]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"Channel {channel}: file {path.name}, line {number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ClientError(f"{where}: byte {exc.start + 1} is not UTF-8 text") from None
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split(",")
            if width is None:
                width = Width(len(fields), f"line {number}")
            elif len(fields) != width.columns:
                raise ClientError(
                    f"{where} has {len(fields)} columns, expected {width.columns} as in "
                    f"{width.where} (label first, then the features)"
                )
            values = []
            for column, field in enumerate(fields, start=1):
                if not field.strip():
                    raise ClientError(f"{where}, column {column}: empty")
                try:
                    if "_" in field:  # Python reads 1_000; numpy and XGBoost do not
                        raise ValueError(field)
                    value = float(field)
                except ValueError:
                    raise ClientError(
                        f"{where}, column {column}: {shown(field)} is not a number"
                    ) from None
                if not math.isfinite(value):
                    raise ClientError(
                        f"{where}, column {column}: {shown(field)} is not a finite number"
                    )
                values.append(value)
            problem = check(values[0]) if check is not None else None
            if problem is not None:
                raise ClientError(f"{where}: {problem}")
            rows.append(values)
    return np.array(rows, dtype=float).reshape(len(rows), width.columns if width else 0)


def read_file(
    path: Path, channel: str, width: Width | None, check: LabelCheck | None
) -> np.ndarray:
    """One CSV file as a 2-D array (no rows: empty), or ClientError naming its first bad row."""
    try:
        with warnings.catch_warnings():  # an empty file is skipped, not worth a warning
            warnings.simplefilter("ignore", UserWarning)
            # comments=None: a "#" line is a bad row, never silently dropped.
            block = np.loadtxt(path, delimiter=",", ndmin=2, dtype=float, comments=None)
    except ValueError:  # UnicodeDecodeError included
        return read_exactly(path, channel, width, check)
    if not block.size:
        return block
    # The fast reading is only trusted when every check passes; else the exact reading says why.
    fine = (
        np.isfinite(block).all()
        and (width is None or block.shape[1] == width.columns)
        and (check is None or all(check(float(label)) is None for label in np.unique(block[:, 0])))
    )
    return block if fine else read_exactly(path, channel, width, check)


def read_channel(
    directory: Path,
    channel: str,
    *,
    width: Width | None = None,
    check: LabelCheck | None = None,
) -> np.ndarray:
    """Every file of a channel as one array; rows must have ``width`` columns when given."""
    kind = "training" if channel == "train" else channel
    files = data_files(directory)
    if not files:
        raise ClientError(
            f"No data in {kind} channel path {channel_path(channel)}: channel {channel} has no "
            "files"
        )
    blocks = []
    for path in files:
        block = read_file(path, channel, width, check)
        if block.size:
            blocks.append(block)
            width = width or Width(block.shape[1], f"file {path.name}")
    if not blocks:
        names = ", ".join(path.name for path in files[:3]) + (", ..." if len(files) > 3 else "")
        raise ClientError(
            f"No data in {kind} channel path {channel_path(channel)}: its files are empty ({names})"
        )
    return np.vstack(blocks)


# --- training -----------------------------------------------------------------------------------
# Parts of XGBoost's messages that mean the data or hyperparameters are wrong: the real
# container's CUSTOMER_ERRORS (constants/xgb_constants.py), which it reports as UserError.
CUSTOMER_ERRORS = (
    "label must be in",
    "label must be nonnegative",
    "label must be non-negative",  # XGBoost 2 and later
    "feature_names mismatch",
    "base_score must be in",
    "the dataset only contains pos or neg samples",
    "should be greater equal to 0",
)
# "[12:34:56] /workspace/src/objective/regression_obj.cu:83: " before XGBoost's own words.
XGBOOST_LOCATION = re.compile(r"^\[[\d:]+\] [^ ]+:\d+: ")


def xgboost_failure(exc: Exception) -> Exception:
    """An XGBoostError as one sentence: its first line (the C++ backtrace follows it)."""
    lines = str(exc).strip().splitlines()
    first = XGBOOST_LOCATION.sub("", lines[0]) if lines else type(exc).__name__
    if any(part in first for part in CUSTOMER_ERRORS):
        return ClientError(f"XGBoost refused the data or hyperparameters: {first}")
    return AlgorithmError(f"XGB train call failed with exception: {first}")


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
        raise ClientError("Missing required channel: train")
    check = label_check(params)
    train_data = read_channel(data_dir / "train", "train", check=check)
    width = Width(train_data.shape[1], "channel train")
    has_validation = (data_dir / "validation").is_dir()
    validation = (
        read_channel(data_dir / "validation", "validation", width=width, check=check)
        if has_validation
        else None
    )
    if validation is None and early_stopping:
        raise ClientError("early_stopping_rounds needs a validation channel")
    print(f"Train matrix has {train_data.shape[0]} rows and {train_data.shape[1] - 1} columns")

    logger: Any
    if hasattr(xgb.callback, "TrainingCallback"):  # xgboost >= 1.3

        class RoundLogger(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
                parts = [
                    f"{data}-{metric}:{values[-1]:.5f}"
                    for data, metrics in evals_log.items()
                    for metric, values in metrics.items()
                ]
                print(f"[{epoch}]\t" + "\t".join(parts), flush=True)
                return False

        logger = RoundLogger()
    else:  # xgboost 1.0-1.2 (the 1.0-1, 1.2-x images): a callback is a function of CallbackEnv

        def logger(env: Any) -> None:
            parts = [f"{name}:{value:.5f}" for name, value in env.evaluation_result_list]
            print(f"[{env.iteration}]\t" + "\t".join(parts), flush=True)

    try:
        evals = [(xgb.DMatrix(train_data[:, 1:], label=train_data[:, 0]), "train")]
        if validation is not None:
            evals.append((xgb.DMatrix(validation[:, 1:], label=validation[:, 0]), "validation"))
        booster = xgb.train(
            params,
            evals[0][0],
            num_boost_round=num_round,
            evals=evals,
            early_stopping_rounds=early_stopping,
            verbose_eval=False,
            callbacks=[logger],
        )
    except xgb.core.XGBoostError as exc:
        raise xgboost_failure(exc) from exc
    model_dir.mkdir(parents=True, exist_ok=True)
    # UBJSON: what xgboost saves by default, and loadable by the 1.7 container's library.
    staging = model_dir / "xgboost-model.ubj"
    booster.save_model(str(staging))
    staging.replace(model_dir / "xgboost-model")


def fail(output_dir: Path, reason: str) -> int:
    """Report ``reason`` as the container does (failure file, stderr) and give the exit code."""
    print(reason, file=sys.stderr, flush=True)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "failure").write_text(reason)
    except OSError as exc:  # stderr and the exit code still tell the job it failed
        print(f"cannot write {output_dir / 'failure'}: {exc}", file=sys.stderr)
    return EXIT_FAILURE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-dir", default="/opt/ml/input/config")
    parser.add_argument("--data-dir", default="/opt/ml/input/data")
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--output-dir", default="/opt/ml/output")
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir)
    try:
        train(Path(args.config_dir), Path(args.data_dir), Path(args.model_dir))
    except ClientError as exc:
        return fail(output_dir, f"ClientError: {one_line(str(exc))}")
    except AlgorithmError as exc:
        return fail(output_dir, f"AlgorithmError: {one_line(str(exc))}")
    except Exception as exc:
        # Our own fault: the log keeps the traceback for whoever fixes it; the reason is a line.
        traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return fail(output_dir, f"AlgorithmError: {type(exc).__name__}: {one_line(first)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
