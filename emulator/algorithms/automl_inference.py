"""The inference script of an AutoML candidate the emulator trained (automl_jobs.py).

An Autopilot candidate takes raw CSV rows, the training data's columns without the target, and
answers the predicted label (``SAGEMAKER_INFERENCE_OUTPUT``, default ``predicted_label``; for
classification also ``probability``, ``probabilities`` and ``labels``, comma-separated, as
Autopilot's containers take them). AWS chains a data-processing container before the algorithm;
the emulator serves single-container models, so this one script does both: it encodes each row
with the feature spec fitted on the training split (``feature_spec.json``: numeric columns as
they are, categorical ones as the index of their category, an unseen or empty value missing)
and scores it with the candidate's XGBoost booster.

Packed as ``code/inference.py`` in the candidate's model.tar.gz and run by the model server in
the candidate image's environment (sagemaker-xgboost 1.7-1: Python 3.9), through the inference
toolkit's handlers; it imports only the standard library, numpy and xgboost. ``score`` scores
an encoded CSV (label first) and writes the predictions, for the job's own objective.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

SPEC_FILE = "feature_spec.json"
MODEL_FILE = "xgboost-model"
OUTPUT_KEYS = ("predicted_label", "probability", "probabilities", "labels")


class BadRequest(ValueError):
    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def encode(rows: list[list[str]], spec: dict[str, Any]) -> np.ndarray:
    """Raw rows (the features, in the training data's order) as the booster's matrix."""
    features = spec["features"]
    matrix = np.full((len(rows), len(features)), np.nan)
    for i, row in enumerate(rows):
        if len(row) != len(features):
            raise BadRequest(
                f"row {i + 1} has {len(row)} columns; the model takes {len(features)} "
                f"({', '.join(f['name'] for f in features)})"
            )
        # zip(strict=) is Python 3.10+; the lengths are checked above.
        for j, (cell, feature) in enumerate(zip(row, features)):  # noqa: B905
            text = cell.strip()
            if not text:
                continue
            if feature["kind"] == "numeric":
                try:
                    value = float(text)
                except ValueError:
                    continue  # as a missing value: Autopilot imputes what does not parse
                matrix[i, j] = value if math.isfinite(value) else np.nan
            else:
                index = feature["index"].get(text)
                if index is not None:
                    matrix[i, j] = index
    return matrix


def load(model_dir: str) -> dict[str, Any]:
    import xgboost

    directory = Path(model_dir)
    booster = xgboost.Booster()
    booster.load_model(str(directory / MODEL_FILE))
    spec = json.loads((directory / SPEC_FILE).read_text())
    spec["features"] = indexed(spec["features"])
    return {"booster": booster, "spec": spec}


def indexed(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The features with each category's index, which ``encode`` looks values up in."""
    return [
        {**feature, "index": {value: k for k, value in enumerate(feature.get("categories", []))}}
        for feature in features
    ]


def predict(model: dict[str, Any], matrix: np.ndarray) -> np.ndarray:
    """Regression values; class probabilities (rows x classes) for classification."""
    import xgboost

    raw = np.asarray(model["booster"].predict(xgboost.DMatrix(matrix)))
    if model["spec"]["problem_type"] == "BinaryClassification":
        raw = np.column_stack([1 - raw, raw])
    return raw


# --- the inference toolkit's handlers ------------------------------------------------------
def model_fn(model_dir: str) -> dict[str, Any]:
    return load(model_dir)


def input_fn(body: Any, content_type: str | None) -> list[list[str]]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "text/csv":
        raise BadRequest(f"Content type {content_type!r} is not supported; send text/csv", 415)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return [row for row in csv.reader(io.StringIO(text)) if row]


def predict_fn(rows: list[list[str]], model: dict[str, Any]) -> dict[str, Any]:
    return {"spec": model["spec"], "scores": predict(model, encode(rows, model["spec"]))}


def output_fn(prediction: dict[str, Any], accept: str) -> tuple[str, str]:
    spec, scores = prediction["spec"], prediction["scores"]
    wanted = [
        key.strip()
        for key in os.environ.get("SAGEMAKER_INFERENCE_OUTPUT", "predicted_label").split(",")
        if key.strip()
    ]
    unknown = [key for key in wanted if key not in OUTPUT_KEYS]
    if unknown:
        raise BadRequest(f"SAGEMAKER_INFERENCE_OUTPUT: {unknown[0]!r} is not one of {OUTPUT_KEYS}")
    records = [answer(spec, row, wanted) for row in scores]
    media = (accept or "text/csv").split(";")[0].strip().lower()
    if media == "application/json":
        return json.dumps({"predictions": records}), "application/json"
    if media == "application/jsonlines":
        return "".join(json.dumps(r) + "\n" for r in records), "application/jsonlines"
    if media not in ("text/csv", "*/*"):
        raise BadRequest(f"Accept {accept!r} is not supported", 406)
    lines = []
    for record in records:
        cells = [record[key] for key in wanted]
        lines.append(",".join(json.dumps(c) if isinstance(c, list) else str(c) for c in cells))
    return "\n".join(lines) + "\n", "text/csv"


def answer(spec: dict[str, Any], row: Any, wanted: list[str]) -> dict[str, Any]:
    if spec["problem_type"] == "Regression":
        if wanted != ["predicted_label"]:
            raise BadRequest("a regression candidate answers predicted_label only")
        return {"predicted_label": float(row)}
    classes = spec["classes"]
    best = int(np.argmax(row))
    return {
        "predicted_label": classes[best],
        "probability": float(row[best]),
        "probabilities": [float(p) for p in row],
        "labels": list(classes),
    }


# --- scoring the validation split ----------------------------------------------------------
def score(model_dir: str, encoded_csv: str, output: str) -> None:
    model = load(model_dir)
    data = np.loadtxt(encoded_csv, delimiter=",", ndmin=2)
    scores = predict(model, data[:, 1:])
    Path(output).write_text(json.dumps(scores.tolist()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["score"])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    score(args.model_dir, args.input, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
