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

Per container version (``--image-tag``, the image's tag: 1.0-1 ... 3.0-5; see ``TAGS``): the
hyperparameter names, objectives, tree methods and eval metrics that version's validation accepts
(1.0-1 still takes ``silent``; all take the deprecated ``reg:linear``), and ``xgboost-model`` in
the format its train.py writes: a pickled Booster up to 1.2-2, ``Booster.save_model`` from 1.3-1.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
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


# --- what each container version accepts ------------------------------------------------------
# From aws/sagemaker-xgboost-container at each version's branch (v3.0-5: its tag), read for this
# table, not copied: algorithm_mode/hyperparameter_validation.py (names, objective list,
# tree_method values), constants/xgb_constants.py (XGB_MAXIMIZE_METRICS + XGB_MINIMIZE_METRICS,
# the eval_metric list) and algorithm_mode/train.py (how xgboost-model is written).
TAGS = ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "3.0-5")
# Run without --image-tag (tests, tools): the image the project trains with.
DEFAULT_TAG = "1.7-1"


def since(tag: str) -> frozenset[str]:
    """The tags from ``tag`` on."""
    return frozenset(TAGS[TAGS.index(tag) :])


def until(tag: str) -> frozenset[str]:
    """The tags up to ``tag`` included."""
    return frozenset(TAGS[: TAGS.index(tag) + 1])


ALL_TAGS = frozenset(TAGS)

# Every version's validation declares these (plus the four aliases below).
COMMON_NAMES = frozenset(
    {
        "num_round",
        "csv_weights",
        "early_stopping_rounds",
        "booster",
        "verbosity",
        "nthread",
        "eta",
        "gamma",
        "max_depth",
        "min_child_weight",
        "max_delta_step",
        "subsample",
        "colsample_bytree",
        "colsample_bylevel",
        "colsample_bynode",
        "lambda",
        "alpha",
        "tree_method",
        "sketch_eps",
        "scale_pos_weight",
        "updater",
        "dsplit",
        "refresh_leaf",
        "process_type",
        "grow_policy",
        "max_leaves",
        "max_bin",
        "predictor",
        "monotone_constraints",
        "interaction_constraints",
        "sample_type",
        "normalize_type",
        "rate_drop",
        "one_drop",
        "skip_drop",
        "lambda_bias",
        "tweedie_variance_power",
        "objective",
        "num_class",
        "base_score",
        "_tuning_objective_metric",
        "eval_metric",
        "seed",
        "num_parallel_tree",
        "save_model_on_termination",
        # declare_alias in every version
        "learning_rate",
        "min_split_loss",
        "reg_lambda",
        "reg_alpha",
    }
)
# The names some versions only accept: name -> the tags whose validation declares it.
VERSIONED_NAMES: dict[str, frozenset[str]] = {
    "silent": until("1.0-1"),  # XGBoost's deprecated flag; 1.2-1 dropped it for verbosity
    "_nfold": frozenset({"1.2-1"}),  # renamed _kfold in 1.2-2
    "_kfold": since("1.2-2"),
    "_num_cv_round": since("1.2-2"),
    "aft_loss_distribution": since("1.2-1"),
    "aft_loss_distribution_scale": since("1.2-1"),
    "single_precision_histogram": since("1.2-1") - since("1.7-1"),
    "deterministic_histogram": since("1.2-1"),
    "sampling_method": since("1.3-1"),
    "prob_buffer_row": since("1.3-1"),
    "use_dask_gpu_training": since("1.5-1"),
}

# objective -> the tags that accept it. Every version keeps reg:linear, which XGBoost deprecated
# for reg:squarederror; 1.2-1 on list "aft_loss_distribution" (a hyperparameter's name, which
# XGBoost itself then refuses as an objective).
OBJECTIVES: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "binary:logistic",
            "binary:logitraw",
            "binary:hinge",
            "count:poisson",
            "multi:softmax",
            "multi:softprob",
            "rank:pairwise",
            "rank:ndcg",
            "rank:map",
            "reg:linear",
            "reg:squarederror",
            "reg:logistic",
            "reg:gamma",
            "reg:squaredlogerror",
            "reg:tweedie",
            "survival:cox",
        ),
        ALL_TAGS,
    ),
    **dict.fromkeys(
        ("aft_loss_distribution", "reg:pseudohubererror", "survival:aft"), since("1.2-1")
    ),
    "reg:absoluteerror": since("1.7-1"),
}
# tree_method -> tags. 1.0-1 refuses any "gpu" value with its own sentence.
TREE_METHODS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("auto", "exact", "approx", "hist"), ALL_TAGS),
    "gpu_hist": since("1.2-1"),
}
# eval_metric (and _tuning_objective_metric) -> tags.
METRICS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "accuracy",
            "auc",
            "aucpr",
            "f1",
            "map",
            "ndcg",
            "cox-nloglik",
            "error",
            "gamma-deviance",
            "gamma-nloglik",
            "logloss",
            "mae",
            "merror",
            "mlogloss",
            "mse",
            "poisson-nloglik",
            "rmse",
            "rmsle",
            "tweedie-nloglik",
        ),
        ALL_TAGS,
    ),
    **dict.fromkeys(("r2", "aft-nloglik", "interval-regression-accuracy", "mphe"), since("1.2-1")),
    **dict.fromkeys(("f1_binary", "f1_macro"), since("1.2-2")),
    **dict.fromkeys(
        (
            "balanced_accuracy",
            "precision",
            "recall",
            "precision_macro",
            "precision_micro",
            "recall_macro",
            "recall_micro",
            "mape",
        ),
        since("1.3-1"),
    ),
}
# Metrics the container computes itself (metrics/custom_metrics.py), not XGBoost: not emulated.
CONTAINER_METRICS = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_binary",
        "f1_macro",
        "mse",
        "precision",
        "precision_macro",
        "precision_micro",
        "r2",
        "recall",
        "recall_macro",
        "recall_micro",
    }
)
# train.py: 1.0-1 to 1.2-2 pickle.dump the Booster (1.0-1 with Python's default protocol,
# 1.2-x with protocol=4); 1.3-1 on call Booster.save_model("xgboost-model"), whose format is the
# library's for a name without extension (the deprecated binary one for xgboost 1.x, UBJSON for
# xgboost >= 2.1).
PICKLE_PROTOCOL: dict[str, int | None] = {"1.0-1": None, "1.2-1": 4, "1.2-2": 4}


@dataclass(frozen=True)
class Container:
    """What one sagemaker-xgboost version's algorithm mode accepts and writes."""

    tag: str

    @property
    def names(self) -> frozenset[str]:
        extra = {name for name, tags in VERSIONED_NAMES.items() if self.tag in tags}
        return COMMON_NAMES | extra

    def values(self, table: dict[str, frozenset[str]]) -> tuple[str, ...]:
        return tuple(value for value, tags in table.items() if self.tag in tags)

    @property
    def pickled(self) -> bool:
        return self.tag in PICKLE_PROTOCOL


def container(tag: str | None) -> Container:
    """The container version of an image tag (``1.0-1``); ClientError for one not emulated."""
    tag = tag or DEFAULT_TAG
    if tag not in TAGS:
        raise ClientError(
            f"image tag {tag!r} of sagemaker-xgboost is not emulated; emulated: {', '.join(TAGS)}"
        )
    return Container(tag)


# The SageMaker XGBoost algorithm's hyperparameters that are emulated, their types and ranges;
# objective and tree_method take their values from the container version.
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "num_round": integer(1),
    "num_class": integer(2),
    "objective": Hyperparameter("text"),
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
    "tree_method": Hyperparameter("text"),
    "sketch_eps": real(0, 1, open_low=True),
    "scale_pos_weight": real(0, open_low=True),
    "max_bin": integer(2),
    "max_leaves": integer(0),
    "grow_policy": choice("depthwise", "lossguide"),
    "base_score": real(),
    "seed": integer(),
    "silent": integer(0, 1),
    "verbosity": integer(0, 3),
    "eval_metric": Hyperparameter("text"),
    "early_stopping_rounds": integer(1),
    "tweedie_variance_power": real(1, 2, open_low=True),
    "csv_weights": integer(0, 1),
    # What a tuning job adds to each of its training jobs: "validation:auc" makes sure auc is
    # computed (and early-stopped on) whatever eval_metric says.
    "_tuning_objective_metric": Hyperparameter("text"),
    # true: the model is saved after every round, so a job stopped early (by a tuning job's
    # early stopping, StopTrainingJob) still has the last one; false, the container's default,
    # leaves no model behind.
    "save_model_on_termination": choice("true", "false"),
}
# Threshold metrics the container allows as ``name@t``.
THRESHOLD_METRICS = ("error", "ndcg", "map")


def check_metric(metric: str, version: Container) -> None:
    """One eval_metric entry as the version's validation checks it."""
    if "@" in metric:
        name, _, threshold = (part.strip() for part in metric.partition("@"))
        if name not in THRESHOLD_METRICS:
            raise ClientError(
                f"Metric {shown(metric)} is not supported. Parameter 'eval_metric' with customized "
                f"threshold should be one of these options: {', '.join(THRESHOLD_METRICS)}."
            )
        try:
            float(threshold)
        except ValueError:
            raise ClientError(f"Threshold value 't' in '{name}@t' expects float input.") from None
        return
    supported = version.values(METRICS)
    if metric not in supported:
        raise ClientError(
            f"Hyperparameter eval_metric: {shown(metric)} is not supported by sagemaker-xgboost:"
            f"{version.tag}; supported: {', '.join(supported)}"
        )
    if metric in CONTAINER_METRICS:
        raise AlgorithmError(
            f"eval_metric {metric} (computed by the container, not XGBoost) is not emulated"
        )


def parse_hyperparameters(raw: dict[str, Any], tag: str | None = None) -> dict[str, Any]:
    """The hyperparameters, typed, as image ``tag``'s container validates them; the first
    problem raises ClientError naming it."""
    version = container(tag)
    if "num_round" not in raw:
        raise ClientError("Missing required hyperparameter: num_round")
    accepted = version.names
    extraneous = sorted(set(raw) - accepted)
    if extraneous:
        raise ClientError(
            f"Extraneous hyperparameter found: {', '.join(extraneous)}. The XGBoost "
            f"algorithm of sagemaker-xgboost:{version.tag} accepts: {', '.join(sorted(accepted))}"
        )
    # Accepted by this version but not emulated: the emulator's limit, not the user's mistake.
    not_emulated = sorted(set(raw) - set(HYPERPARAMETERS))
    if not_emulated:
        raise AlgorithmError(
            f"Hyperparameter {', '.join(not_emulated)} of the XGBoost algorithm is not emulated"
        )
    parsed = {name: HYPERPARAMETERS[name].parse(name, str(text)) for name, text in raw.items()}
    tree_method = parsed.get("tree_method")
    if tree_method is not None:
        if "gpu" in tree_method and version.tag == "1.0-1":
            raise ClientError("GPU training is not supported yet.")
        choice(*version.values(TREE_METHODS)).parse("tree_method", tree_method)
        if "gpu" in tree_method:
            raise AlgorithmError(f"tree_method {tree_method} is not emulated (no GPU)")
    objective = parsed.get("objective")
    if objective is not None:
        choice(*version.values(OBJECTIVES)).parse("objective", objective)
    metrics = [m for m in str(parsed.get("eval_metric", "")).split(",") if m]
    objective_metric = parsed.get("_tuning_objective_metric")
    if objective_metric is not None:
        name = objective_metric.rpartition(":")[2]
        if not name:
            raise ClientError(f"_tuning_objective_metric {shown(objective_metric)} names no metric")
        # The container evaluates the union, the objective's metric included; the last metric
        # is the one xgboost's early stopping watches, so the objective goes last.
        metrics = [m for m in metrics if m != name] + [name]
        parsed["eval_metric"] = ",".join(metrics)
    for metric in metrics:
        check_metric(metric, version)
    classifies = objective is None or objective.startswith(("binary:", "rank:"))
    if "auc" in metrics and not classifies:
        raise ClientError(
            "Metric 'auc' can only be applied for classification and ranking problems."
        )
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise ClientError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    if str(objective).startswith("multi:") and "num_class" not in parsed:
        raise ClientError("Require input for parameter 'num_class' for multi-classification")
    if objective is None and "num_class" in parsed:
        raise ClientError(
            "Do not need to setup parameter 'num_class' for learning task other than "
            "multi-classification."
        )
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


def library_accepts(xgb: Any, objective: str) -> bool:
    """Whether this xgboost trains with ``objective`` (one round on two rows, quietly)."""
    probe = xgb.DMatrix(np.zeros((2, 1)), label=np.zeros(2))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xgb.train({"objective": objective, "verbosity": 0}, probe, num_boost_round=1)
    except xgb.core.XGBoostError:
        return False
    return True


def save_booster(booster: Any, model_dir: Path, version: Container) -> None:
    """``xgboost-model`` in the format the version's container writes (see PICKLE_PROTOCOL);
    staged under another name, then renamed, so no half-written model is ever packed."""
    model_dir.mkdir(parents=True, exist_ok=True)
    # No .json/.ubj ending: the library picks the format it picks for "xgboost-model".
    staging = model_dir / ".xgboost-model.partial"
    if version.pickled:
        with staging.open("wb") as handle:
            pickle.dump(booster, handle, protocol=PICKLE_PROTOCOL[version.tag])
    else:
        booster.save_model(str(staging))
    staging.replace(model_dir / "xgboost-model")


def train(config_dir: Path, data_dir: Path, model_dir: Path, tag: str | None = None) -> None:
    import xgboost as xgb

    version = container(tag)
    raw = json.loads((config_dir / "hyperparameters.json").read_text())
    params = parse_hyperparameters(raw, version.tag)
    # Every container version lists reg:linear; xgboost 1.0 to 3.x train it as a deprecated
    # alias of reg:squarederror. Should a library refuse it, train its replacement instead.
    if params.get("objective") == "reg:linear" and not library_accepts(xgb, "reg:linear"):
        print(
            f"xgboost {xgb.__version__} has no objective reg:linear: training with "
            "reg:squarederror, which replaced it",
            flush=True,
        )
        params["objective"] = "reg:squarederror"
    num_round = params.pop("num_round")
    early_stopping = params.pop("early_stopping_rounds", None)
    params.pop("csv_weights", None)
    params.pop("_tuning_objective_metric", None)
    save_every_round = params.pop("save_model_on_termination", "false") == "true"
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
                if save_every_round:
                    save_booster(model, model_dir, version)
                return False

        logger = RoundLogger()
    else:  # xgboost 1.0-1.2 (the 1.0-1, 1.2-x images): a callback is a function of CallbackEnv

        def logger(env: Any) -> None:
            parts = [f"{name}:{value:.5f}" for name, value in env.evaluation_result_list]
            print(f"[{env.iteration}]\t" + "\t".join(parts), flush=True)
            if save_every_round:
                save_booster(env.model, model_dir, version)

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
    save_booster(booster, model_dir, version)


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
    # The sagemaker-xgboost image's version (1.0-1 ... 3.0-5): what is accepted and written.
    parser.add_argument("--image-tag", default=DEFAULT_TAG)
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir)
    try:
        train(Path(args.config_dir), Path(args.data_dir), Path(args.model_dir), args.image_tag)
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
