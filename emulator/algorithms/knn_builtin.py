"""The built-in k-NN algorithm (image ``knn:1``): training, its metrics, and its model server.

Played from the algorithm's documented contract (the container's sources are not public):

- Hyperparameters (SageMaker developer guide, "k-NN Hyperparameters"): ``feature_dim``, ``k``,
  ``predictor_type`` (``classifier`` | ``regressor``) and ``sample_size`` are required;
  ``index_metric`` (L2, INNER_PRODUCT, COSINE), ``index_type`` (faiss.Flat, faiss.IVFFlat,
  faiss.IVFPQ), ``faiss_index_ivf_nlists``, ``faiss_index_pq_m``, ``dimension_reduction_type``
  (sign, fjlt) with ``dimension_reduction_target``, ``mini_batch_size`` are optional. Anything
  else, or a value of the wrong kind, fails the job as a ClientError naming it.
- Data: channel ``train`` (required) and ``test`` (optional), ``text/csv`` with the label in the
  first column (``label_size=1``, the documented default). recordIO-protobuf is not emulated:
  such a channel fails naming it. ``sample_size`` rows are drawn from the training data (all
  of it when it has fewer), and their ``feature_dim`` must match the columns after the label.
- Search: exact nearest neighbours by the index metric. faiss's IVF and PQ indexes are
  approximate on AWS; here every index type answers the exact neighbours, and dimension
  reduction is not applied (its parameters are validated only).
- Metrics: with a ``test`` channel, ``test:accuracy`` (classifier) or ``test:mse`` (regressor),
  logged as ``#test_score (algo-1) : ('accuracy', 0.9)``, the line the algorithm's metric
  definitions read (training_metrics.BUILTIN_DEFINITIONS).
- Inference ("k-NN Request and Response Formats"): ``text/csv`` rows of features,
  ``application/json`` ``{"instances": [{"features": [...]}, ...]}``, ``application/jsonlines``
  ``{"features": [...]}`` per line; answers ``application/json`` (the default)
  ``{"predictions": [{"predicted_label": 1.0}, ...]}``, or ``application/jsonlines`` one
  ``{"predicted_label": ...}`` per line; ``; verbose=true`` adds ``labels`` and ``distances``
  of the k neighbours. A classifier predicts the most frequent label among the neighbours (a
  tie goes to the label with the nearest neighbour), a regressor their mean.

Runs with the emulator's own Python (numpy only; it imports nothing else so that it would run on
any image's too). ``python knn_builtin.py train ...`` trains; ``serve ...`` is the model
server, speaking model_server.py's pipe protocol.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "model_algo-1"
PREDICTOR_TYPES = ("classifier", "regressor")
INDEX_METRICS = ("L2", "INNER_PRODUCT", "COSINE")
INDEX_TYPES = ("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
REDUCTION_TYPES = ("sign", "fjlt")
REQUIRED = ("feature_dim", "k", "predictor_type", "sample_size")
POSITIVE_INTEGERS = (
    "feature_dim",
    "k",
    "sample_size",
    "mini_batch_size",
    "dimension_reduction_target",
    "faiss_index_ivf_nlists",
    "faiss_index_pq_m",
)
# The hyperparameters that take one of a few values.
CHOICES = {
    "predictor_type": PREDICTOR_TYPES,
    "index_metric": INDEX_METRICS,
    "index_type": INDEX_TYPES,
    "dimension_reduction_type": REDUCTION_TYPES,
}
# The SDK adds these to every estimator's hyperparameters; the algorithm ignores them.
SDK_KEYS = (
    "_tuning_objective_metric",
    "sagemaker_estimator_class_name",
    "sagemaker_estimator_module",
)
SEED = 0


class AlgorithmError(Exception):
    """A ClientError of the algorithm: the message becomes the job's FailureReason."""


# --- hyperparameters ------------------------------------------------------------------------
def validate(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Typed hyperparameters, or AlgorithmError naming the first one that is wrong."""
    given = {k: v for k, v in hyperparameters.items() if k not in SDK_KEYS}
    known = set(REQUIRED) | set(POSITIVE_INTEGERS) | set(CHOICES)
    unexpected = sorted(set(given) - known)
    if unexpected:
        raise AlgorithmError(
            "Unable to initialize the algorithm. Failed to validate input hyperparameters. "
            f"Additional properties are not allowed ({unexpected[0]!r} was unexpected)"
        )
    missing = [name for name in REQUIRED if name not in given]
    if missing:
        raise AlgorithmError(
            "Unable to initialize the algorithm. Failed to validate input hyperparameters. "
            f"{missing[0]!r} is a required property"
        )
    typed: dict[str, Any] = {}
    for name in POSITIVE_INTEGERS:
        if name in given:
            typed[name] = positive_integer(name, given[name])
    for name, allowed in CHOICES.items():
        if name in given:
            if given[name] not in allowed:
                raise AlgorithmError(
                    f"Unable to initialize the algorithm. Failed to validate input "
                    f"hyperparameters. {name}: {given[name]!r} is not one of {list(allowed)}"
                )
            typed[name] = given[name]
    if ("dimension_reduction_type" in typed) != ("dimension_reduction_target" in typed):
        raise AlgorithmError(
            "Unable to initialize the algorithm. dimension_reduction_target and "
            "dimension_reduction_type must be given together"
        )
    typed.setdefault("index_metric", "L2")
    typed.setdefault("index_type", "faiss.Flat")
    return typed


def positive_integer(name: str, value: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise AlgorithmError(
            f"Unable to initialize the algorithm. Failed to validate input hyperparameters. "
            f"{name}: {value!r} is not a positive integer"
        )
    return number


# --- data -----------------------------------------------------------------------------------
def channel_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def content_type_of(config: dict[str, Any], channel: str) -> tuple[str, int]:
    """(media type, label_size) of a channel; recordIO-protobuf is the algorithm's default."""
    raw = config.get(channel, {}).get("ContentType") or "application/x-recordio-protobuf"
    parts = [part.strip() for part in raw.split(";")]
    label_size = 1
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key.strip() == "label_size":
            label_size = positive_or_zero(value)
    return parts[0].lower(), label_size


def positive_or_zero(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError as exc:
        raise AlgorithmError(f"label_size must be 0 or 1, not {value!r}") from exc


def read_csv_channel(
    directory: Path, channel: str, feature_dim: int, label_size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, labels) of every file in the channel; errors name file and line."""
    rows: list[list[float]] = []
    for path in channel_files(directory):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                try:
                    values = [float(cell) for cell in text.split(",")]
                except ValueError as exc:
                    raise AlgorithmError(
                        f"channel {channel}: {path.name} line {number}: not numeric CSV ({exc})"
                    ) from exc
                if len(values) != feature_dim + label_size:
                    raise AlgorithmError(
                        f"channel {channel}: {path.name} line {number}: {len(values)} columns; "
                        f"expected {feature_dim + label_size} (label_size={label_size} and "
                        f"feature_dim={feature_dim})"
                    )
                rows.append(values)
    if not rows:
        raise AlgorithmError(f"channel {channel}: no records found")
    matrix = np.asarray(rows, dtype=np.float64)
    if label_size:
        return matrix[:, 1:], matrix[:, 0]
    return matrix, None


def load_channel(
    data_dir: Path, config: dict[str, Any], channel: str, feature_dim: int
) -> tuple[np.ndarray, np.ndarray]:
    media, label_size = content_type_of(config, channel)
    if media != "text/csv":
        raise AlgorithmError(
            f"channel {channel}: content type {media!r} is not emulated; the emulator's k-NN "
            "reads text/csv (label in the first column)"
        )
    if label_size != 1:
        raise AlgorithmError(f"channel {channel}: training data needs its label (label_size=1)")
    features, labels = read_csv_channel(data_dir / channel, channel, feature_dim, label_size)
    assert labels is not None
    return features, labels


# --- the model ------------------------------------------------------------------------------
class Model:
    def __init__(self, points: np.ndarray, labels: np.ndarray, config: dict[str, Any]) -> None:
        self.points = points
        self.labels = labels
        self.config = config
        if config["index_metric"] == "COSINE":
            self.points = normalized(points)

    @property
    def k(self) -> int:
        return min(int(self.config["k"]), len(self.points))

    def neighbours(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indexes, distances) of the k nearest points to each row, nearest first."""
        metric = self.config["index_metric"]
        if metric == "L2":
            squared = (
                (features**2).sum(axis=1)[:, None]
                - 2 * features @ self.points.T
                + (self.points**2).sum(axis=1)[None, :]
            )
            distances = np.sqrt(np.maximum(squared, 0.0))
            order = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
        else:  # similarities: larger is nearer
            query = normalized(features) if metric == "COSINE" else features
            distances = query @ self.points.T
            order = np.argsort(-distances, axis=1, kind="stable")[:, : self.k]
        return order, np.take_along_axis(distances, order, axis=1)

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(predicted labels, the neighbours' labels, their distances)."""
        if features.ndim != 2 or features.shape[1] != self.points.shape[1]:
            width = features.shape[1] if features.ndim == 2 else "?"
            raise ValueError(
                f"each record needs {self.points.shape[1]} features (feature_dim); got {width}"
            )
        order, distances = self.neighbours(features)
        labels = self.labels[order]
        if self.config["predictor_type"] == "regressor":
            return labels.mean(axis=1), labels, distances
        predicted = np.empty(len(labels))
        for row, neighbour_labels in enumerate(labels):
            values, counts = np.unique(neighbour_labels, return_counts=True)
            tied = set(values[counts == counts.max()].tolist())
            # The tied label whose member comes first (neighbours are nearest first).
            predicted[row] = next(label for label in neighbour_labels if label in tied)
        return predicted, labels, distances

    def save(self, model_dir: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, points=self.points, labels=self.labels)
        (model_dir / MODEL_FILE).write_bytes(buffer.getvalue())
        (model_dir / "model_config.json").write_text(json.dumps(self.config))

    @classmethod
    def load(cls, model_dir: Path) -> Model:
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ValueError(f"{MODEL_FILE} not found in the model artifact (not a k-NN model?)")
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as saved:
            points, labels = saved["points"], saved["labels"]
        config = json.loads((model_dir / "model_config.json").read_text())
        model = cls(points, labels, config)
        model.points = points  # saved already normalized for COSINE
        return model


def normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def train(config_dir: Path, data_dir: Path, model_dir: Path) -> dict[str, float]:
    """Fit (sample) the model into ``model_dir``; the test metrics when there is a test channel."""
    hyperparameters = json.loads((config_dir / "hyperparameters.json").read_text())
    channels = json.loads((config_dir / "inputdataconfig.json").read_text())
    config = validate(hyperparameters)
    if "train" not in channels:
        raise AlgorithmError("Unable to initialize the algorithm. Channel 'train' is required")
    unknown = sorted(set(channels) - {"train", "test"})
    if unknown:
        raise AlgorithmError(
            f"Unable to initialize the algorithm. Channel {unknown[0]!r} is not supported "
            "(k-NN reads 'train' and 'test')"
        )
    features, labels = load_channel(data_dir, channels, "train", config["feature_dim"])
    if config["predictor_type"] == "classifier" and not np.all(labels == np.round(labels)):
        raise AlgorithmError("classifier labels must be whole numbers (class indexes)")
    rows = len(features)
    if rows > config["sample_size"]:
        chosen = np.random.RandomState(SEED).choice(rows, config["sample_size"], replace=False)
        features, labels = features[np.sort(chosen)], labels[np.sort(chosen)]
    print(f"[k-NN] {rows} training records, {len(features)} kept (sample_size)", flush=True)
    if config["k"] > len(features):
        print(f"[k-NN] k={config['k']} exceeds the {len(features)} points kept", flush=True)
    model = Model(features, labels, config)
    model.save(model_dir)
    metrics: dict[str, float] = {}
    if "test" in channels:
        test_features, test_labels = load_channel(data_dir, channels, "test", config["feature_dim"])
        predicted = model.predict(test_features)[0]
        if config["predictor_type"] == "classifier":
            metrics["accuracy"] = float(np.mean(predicted == test_labels))
        else:
            metrics["mse"] = float(np.mean((predicted - test_labels) ** 2))
        for name, value in metrics.items():
            print(f"#test_score (algo-1) : ({name!r}, {value!r})", flush=True)
    return metrics


# --- serving --------------------------------------------------------------------------------
class ClientInputError(ValueError):
    def __init__(self, message: str, status_code: int = 415) -> None:
        super().__init__(message)
        self.status_code = status_code


def parse_request(body: bytes, content_type: str | None) -> np.ndarray:
    media = (content_type or "text/csv").split(";")[0].strip().lower()
    text = body.decode("utf-8")
    try:
        if media == "text/csv":
            rows = [
                [float(cell) for cell in line.split(",")]
                for line in text.splitlines()
                if line.strip()
            ]
        elif media == "application/json":
            document = json.loads(text)
            rows = [instance["features"] for instance in document["instances"]]
        elif media == "application/jsonlines":
            rows = [json.loads(line)["features"] for line in text.splitlines() if line.strip()]
        else:
            raise ClientInputError(f"Content type {content_type!r} is not supported by k-NN")
        return np.asarray(rows, dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ClientInputError):
            raise
        raise ClientInputError(f"Unable to parse the {media} request: {exc}", 400) from exc


def format_response(
    predicted: np.ndarray, labels: np.ndarray, distances: np.ndarray, accept: str | None
) -> tuple[bytes, str]:
    parts = [part.strip() for part in (accept or "").split(";")]
    media = parts[0].lower() if parts[0] and parts[0] != "*/*" else "application/json"
    verbose = any(part.replace(" ", "").lower() == "verbose=true" for part in parts[1:])
    records = []
    for row, value in enumerate(predicted):
        record: dict[str, Any] = {"predicted_label": float(value)}
        if verbose:
            record["labels"] = [float(label) for label in labels[row]]
            record["distances"] = [float(distance) for distance in distances[row]]
        records.append(record)
    if media == "application/json":
        return json.dumps({"predictions": records}).encode(), "application/json"
    if media == "application/jsonlines":
        return "".join(json.dumps(r) + "\n" for r in records).encode(), "application/jsonlines"
    raise ClientInputError(f"Accept type {accept!r} is not supported by k-NN", 406)


class KnnHandlers:
    """model_fn and invoke, as model_server.serve calls them."""

    def model_fn(self, model_dir: str) -> Model:
        return Model.load(Path(model_dir))

    def invoke(
        self, model: Model, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[bytes, str]:
        features = parse_request(body, content_type)
        try:
            predicted, labels, distances = model.predict(features)
        except ValueError as exc:
            raise ClientInputError(str(exc), 400) from exc
        return format_response(predicted, labels, distances, accept)


# --- entry points ---------------------------------------------------------------------------
def train_main(args: argparse.Namespace) -> int:
    try:
        train(args.config_dir, args.data_dir, args.model_dir)
    except AlgorithmError as exc:
        message = f"ClientError: {exc}"
        print(message, file=sys.stderr, flush=True)
        failure = args.output_dir / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(message)
        return 2
    return 0


def serve_main(args: argparse.Namespace) -> int:
    # Beside this file: model_server's pipe protocol (the emulator puts its root on PYTHONPATH).
    from emulator.algorithms import model_server

    requests = os.fdopen(args.request_fd, "rb")
    responses = os.fdopen(args.response_fd, "wb")
    handlers = KnnHandlers()
    try:
        model = handlers.model_fn(str(args.model_dir))
    except Exception as exc:
        traceback.print_exc()
        model_server.send(responses, 500, f"{type(exc).__name__}: {exc}".encode())
        return 1
    print(f"[k-NN] model loaded: {len(model.points)} points, k={model.k}", flush=True)
    model_server.send(responses, 200, b"ready")
    model_server.serve(handlers, model, requests, responses)  # type: ignore[arg-type]
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    training = commands.add_parser("train")
    for name in ("config-dir", "data-dir", "model-dir", "output-dir"):
        training.add_argument(f"--{name}", type=Path, required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--model-dir", type=Path, required=True)
    serving.add_argument("--request-fd", type=int, required=True)
    serving.add_argument("--response-fd", type=int, required=True)
    serving.add_argument("--image-tag", default="")
    args = parser.parse_args(argv)
    return train_main(args) if args.command == "train" else serve_main(args)


if __name__ == "__main__":
    sys.exit(main())
