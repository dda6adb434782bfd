"""Evaluate a trained XGBoost model on the test split and write evaluation.json.

Runs inside the SageMaker XGBoost 1.7-1 framework container (a ProcessingJob) and offline, so it
keeps to Python 3.8 syntax and to pandas, numpy, scikit-learn and xgboost.

``model.tar.gz`` is extracted safely (members must be plain files or directories inside the
target: no absolute paths, ``..``, links or devices), and ``xgboost-model`` is loaded in the
native format or, failing that, as the pickled Booster older containers wrote.

evaluation.json holds the seed's ``metrics.accuracy.value`` and precision, recall, F1, ROC AUC,
log loss, the confusion matrix and the row count; the test set's class counts (``test_rows``:
total, positive, negative; the accuracy gate refuses a one-class test set); the same numbers in
SageMaker's model-quality layout (``binary_classification_metrics.<name>.value``) for the model
registry; and what the model report draws: ROC and precision-recall curves, a calibration
table, and ``feature_importance``, each feature's total gain in the booster named after the
schema's feature columns, largest first (so the report needs no xgboost of its own).

Champion/challenger: when ``--champion-dir`` holds the group's current champion (its
``model/model.tar.gz`` and its serving bundle ``code/inference.tar.gz`` with the schema it was
trained on), the champion is scored on this same test set and evaluation.json gains
``champion``: its ARN, accuracy and ROC AUC. A champion trained on another feature schema
cannot read this test set (the one-hot columns differ): it is then reported as not comparable,
with the reason, rather than scored on columns that mean something else. An empty champion
directory (the group has no approved version) gives ``"champion": null``. ``metrics.champion_floor``
is the champion's accuracy minus ``--max-regression`` (0 without a comparable champion): the
accuracy the challenger must reach, for a pipeline condition that cannot subtract.
"""

import argparse
import json
import os
import pickle
import sys
import tarfile
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn import metrics

MODEL_FILE = "xgboost-model"
BAD_INPUT = 2
CURVE_POINTS = 200
CALIBRATION_BINS = 10


class InputError(Exception):
    """Bad model or test data; the message is the one line a person needs."""


def safe_extract(archive_path: str, target: str) -> None:
    """Extract only regular files and directories that stay inside ``target``."""
    root = os.path.realpath(target)
    try:
        archive = tarfile.open(archive_path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise InputError("{}: not a readable tar archive: {}".format(archive_path, exc)) from exc
    with archive:
        for member in archive.getmembers():
            destination = os.path.realpath(os.path.join(root, member.name))
            if os.path.isabs(member.name) or not (
                destination == root or destination.startswith(root + os.sep)
            ):
                raise InputError(
                    "{}: member {!r} would extract outside the model directory".format(
                        os.path.basename(archive_path), member.name
                    )
                )
            if not (member.isfile() or member.isdir()):
                raise InputError(
                    "{}: member {!r} is a link or device, refused".format(
                        os.path.basename(archive_path), member.name
                    )
                )
            if member.isdir():
                os.makedirs(destination, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            source = archive.extractfile(member)
            if source is None:
                continue
            with source, open(destination, "wb") as handle:
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    handle.write(chunk)


def load_booster(path: str) -> xgb.Booster:
    """The booster in native format (JSON/UBJSON/binary) or as a pickled Booster."""
    with open(path, "rb") as handle:
        is_pickle = handle.read(1) == b"\x80"  # every pickle protocol >= 2 starts with PROTO
    if not is_pickle:
        booster = xgb.Booster()
        try:
            booster.load_model(path)
            return booster
        except xgb.core.XGBoostError as exc:
            raise InputError(
                "{}: not a model XGBoost can load: {}".format(MODEL_FILE, str(exc).splitlines()[0])
            ) from exc
    try:
        with open(path, "rb") as handle:
            # The artefact comes from our own training job, as SageMaker's container reads it.
            loaded = pickle.load(handle)
    except Exception as exc:
        raise InputError(
            "{}: neither a native XGBoost model nor a pickled Booster".format(MODEL_FILE)
        ) from exc
    if not isinstance(loaded, xgb.Booster):
        raise InputError(
            "{}: pickle holds a {}, not an XGBoost Booster".format(
                MODEL_FILE, type(loaded).__name__
            )
        )
    return loaded


def load_model(model_dir: str, work_dir: str) -> xgb.Booster:
    archive = os.path.join(model_dir, "model.tar.gz")
    if os.path.exists(archive):
        safe_extract(archive, work_dir)
        path = os.path.join(work_dir, MODEL_FILE)
    else:
        path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise InputError("no {} in {} (looked for model.tar.gz too)".format(MODEL_FILE, model_dir))
    return load_booster(path)


def read_test(test_dir: str) -> pd.DataFrame:
    path = os.path.join(test_dir, "test.csv")
    if not os.path.isfile(path):
        raise InputError("no test.csv in {}".format(test_dir))
    if os.path.getsize(path) == 0:
        raise InputError("test.csv: file is empty")
    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InputError("test.csv: not a valid CSV: {}".format(str(exc).strip())) from exc
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        row, column = [int(i[0]) for i in np.nonzero(bad)]
        raise InputError(
            "test.csv: row {} column {}: {!r} is not a number".format(
                row + 1, column + 1, frame.iat[row, column]
            )
        )
    labels = numbers.iloc[:, 0]
    if not labels.isin([0, 1]).all():
        row = int(np.flatnonzero(~labels.isin([0, 1]).to_numpy())[0])
        raise InputError(
            "test.csv: row {}: label {!r} is not 0 or 1 (label must be the first column)".format(
                row + 1, frame.iat[row, 0]
            )
        )
    return numbers


def feature_importance(
    booster: xgb.Booster, features: Optional[List[str]]
) -> List[Dict[str, object]]:
    """Each feature's total gain, named after ``features`` (the schema's feature columns),
    largest first and ties by name, so that the same model always reports the same list."""
    count = booster.num_features()
    if features is not None and count != len(features):
        # Naming f<i> after another run's schema would put every name on the wrong gain.
        raise InputError(
            "the booster has {} features but schema.json lists {}: not the schema this model "
            "was trained with".format(count, len(features))
        )
    # The built-in algorithm trains on an unnamed matrix, so xgboost calls column i "f<i>".
    keys = booster.feature_names or ["f{}".format(i) for i in range(count)]
    names = {key: features[i] if features is not None else key for i, key in enumerate(keys)}
    scores = booster.get_score(importance_type="total_gain")
    ranked = sorted(
        ((names[key], float(gain)) for key, gain in scores.items()),
        key=lambda item: (-item[1], item[0]),
    )
    return [{"feature": name, "total_gain": gain} for name, gain in ranked]


def schema_features(path: str) -> List[str]:
    """The feature columns of a preprocess.py schema.json."""
    try:
        with open(path) as handle:
            schema = json.load(handle)
        features = schema["feature_columns"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError("{}: not a feature schema: {}".format(path, exc)) from exc
    if not isinstance(features, list):
        raise InputError("{}: feature_columns is not a list".format(path))
    return [str(name) for name in features]


def bundled_schema_features(bundle: str, work_dir: str) -> List[str]:
    """The feature columns of the schema.json inside a serving bundle (inference.tar.gz)."""
    safe_extract(bundle, work_dir)
    path = os.path.join(work_dir, "schema.json")
    if not os.path.isfile(path):
        raise InputError("{}: holds no schema.json".format(os.path.basename(bundle)))
    return schema_features(path)


def score_champion(
    champion_dir: str,
    champion_arn: str,
    test: pd.DataFrame,
    features: Optional[List[str]],
    threshold: float,
) -> Optional[Dict[str, object]]:
    """The champion's accuracy and ROC AUC on this test set, or None without a champion."""
    archive = os.path.join(champion_dir, "model", "model.tar.gz")
    if not os.path.isfile(archive):
        return None
    champion = {
        "model_package_arn": champion_arn or None,
        "accuracy": None,
        "roc_auc": None,
        "comparable": False,
        "reason": None,
    }
    with tempfile.TemporaryDirectory() as work_dir:
        booster = load_model(os.path.join(champion_dir, "model"), work_dir)
        bundle = os.path.join(champion_dir, "code", "inference.tar.gz")
        if features is not None and os.path.isfile(bundle):
            champion_features = bundled_schema_features(bundle, os.path.join(work_dir, "code"))
            if champion_features != features:
                champion["reason"] = (
                    "the champion was trained on another feature schema ({} features, this "
                    "run's test set has {}{})".format(
                        len(champion_features),
                        len(features),
                        first_difference(champion_features, features),
                    )
                )
                return champion
    if booster.num_features() != test.shape[1] - 1:
        champion["reason"] = "the champion reads {} features, this run's test set has {}".format(
            booster.num_features(), test.shape[1] - 1
        )
        return champion
    values = evaluate(booster, test, threshold)["metrics"]
    champion.update(
        accuracy=values["accuracy"]["value"],
        roc_auc=values["roc_auc"]["value"],
        comparable=True,
    )
    return champion


def first_difference(left: List[str], right: List[str]) -> str:
    for index in range(min(len(left), len(right))):
        if left[index] != right[index]:
            return "; first difference at column {}: {!r} vs {!r}".format(
                index + 1, left[index], right[index]
            )
    return ""


def downsample(points: Dict[str, np.ndarray], limit: int = CURVE_POINTS) -> Dict[str, List]:
    """At most ``limit`` evenly spaced points, always keeping both ends of the curve."""
    size = len(next(iter(points.values())))
    keep = np.unique(np.linspace(0, size - 1, min(size, limit)).round().astype(int))
    return {name: [round(float(v), 6) for v in values[keep]] for name, values in points.items()}


def calibration_table(labels: np.ndarray, scores: np.ndarray) -> List[Dict[str, float]]:
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(scores, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    table = []
    for index in range(CALIBRATION_BINS):
        members = bins == index
        count = int(members.sum())
        table.append(
            {
                "bin_lower": round(float(edges[index]), 2),
                "bin_upper": round(float(edges[index + 1]), 2),
                "count": count,
                "mean_predicted": round(float(scores[members].mean()), 6) if count else None,
                "observed_rate": round(float(labels[members].mean()), 6) if count else None,
            }
        )
    return table


def evaluate(booster: xgb.Booster, test: pd.DataFrame, threshold: float) -> Dict[str, object]:
    labels = test.iloc[:, 0].to_numpy(dtype=int)
    scores = booster.predict(xgb.DMatrix(test.iloc[:, 1:].to_numpy(dtype=float)))
    predicted = (scores >= threshold).astype(int)
    tn, fp, fn, tp = (
        int(v) for v in metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    )
    two_classes = len(np.unique(labels)) == 2
    values = {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, scores)) if two_classes else None,
        "log_loss": float(metrics.log_loss(labels, scores, labels=[0, 1])),
    }
    confusion = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    # SageMaker's model-quality layout, as Model Monitor writes it, for ModelMetrics.
    model_quality = {
        name: {"value": value, "standard_deviation": "NaN"}
        for name, value in (
            ("accuracy", values["accuracy"]),
            ("precision", values["precision"]),
            ("recall", values["recall"]),
            ("f1", values["f1"]),
            ("auc", values["roc_auc"]),
        )
        if value is not None
    }
    model_quality["confusion_matrix"] = {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    report = {
        "metrics": dict(
            {name: {"value": value} for name, value in values.items()},
            confusion_matrix=confusion,
            row_count={"value": len(labels)},
            threshold={"value": threshold},
        ),
        "binary_classification_metrics": model_quality,
        # Accuracy on a test set of one class says nothing about the model: the gate checks this.
        "test_rows": {
            "total": len(labels),
            "positive": int((labels == 1).sum()),
            "negative": int((labels == 0).sum()),
        },
        "curves": {},
        "calibration": calibration_table(labels, scores),
    }
    if two_classes:
        fpr, tpr, roc_thresholds = metrics.roc_curve(labels, scores)
        precision, recall, pr_thresholds = metrics.precision_recall_curve(labels, scores)
        report["curves"] = {
            # roc_curve's first threshold is +inf; JSON has no infinity, so cap it at 1.
            "roc": downsample(
                {"fpr": fpr, "tpr": tpr, "threshold": np.minimum(roc_thresholds, 1.0)}
            ),
            "precision_recall": downsample(
                {
                    "precision": precision[:-1],
                    "recall": recall[:-1],
                    "threshold": pr_thresholds,
                }
            ),
        }
    return report


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/opt/ml/processing/model")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    parser.add_argument("--threshold", type=float, default=0.5, help="score for class 1")
    parser.add_argument(
        "--schema-dir",
        default=None,
        help="this run's schema.json, to check that the champion reads the same features",
    )
    parser.add_argument(
        "--champion-dir",
        default=None,
        help="the champion's model/model.tar.gz and code/inference.tar.gz (empty: no champion)",
    )
    parser.add_argument("--champion-arn", default="", help="the champion's model package ARN")
    parser.add_argument(
        "--max-regression",
        type=float,
        default=0.0,
        help="how far below the champion's accuracy the challenger may fall (champion_floor)",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as work_dir:
            booster = load_model(args.model_dir, work_dir)
        test = read_test(args.test_dir)
        features = None
        if args.schema_dir is not None:
            features = schema_features(os.path.join(args.schema_dir, "schema.json"))
        importance = feature_importance(booster, features)
        champion = None
        if args.champion_dir is not None:
            champion = score_champion(
                args.champion_dir, args.champion_arn, test, features, args.threshold
            )
    except InputError as exc:
        print("evaluate: error: {}".format(exc), file=sys.stderr)
        return BAD_INPUT
    report = evaluate(booster, test, args.threshold)
    report["feature_importance"] = importance
    if args.champion_dir is not None:
        report["champion"] = champion
        # The accuracy the challenger must reach against the champion, as a number a pipeline
        # condition can compare with (it has no arithmetic): 0 without a comparable champion.
        floor = 0.0
        if champion is not None and champion["accuracy"] is not None:
            floor = max(0.0, champion["accuracy"] - args.max_regression)
        report["metrics"]["champion_floor"] = {"value": floor}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "evaluation.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    summary = report["metrics"]
    print(
        "test rows: {}; accuracy {:.4f}; roc_auc {}".format(
            summary["row_count"]["value"],
            summary["accuracy"]["value"],
            summary["roc_auc"]["value"],
        )
    )
    if champion is not None:
        print(
            "champion {}: accuracy {}; roc_auc {}{}".format(
                champion["model_package_arn"],
                champion["accuracy"],
                champion["roc_auc"],
                ""
                if champion["comparable"]
                else " (not comparable: {})".format(champion["reason"]),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
