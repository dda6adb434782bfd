"""SageMaker inference toolkit handlers: score raw census records with the trained booster.

Runs in the XGBoost 1.7-1 framework container (Python 3.8 syntax; pandas, numpy, xgboost). The
model directory holds ``xgboost-model``; ``schema.json`` (written by preprocess.py) is in the
model directory or beside this script in the code bundle, so the
endpoint takes records as people have them — the raw columns of adult.csv — not the one-hot
matrix.

- ``input_fn``: ``text/csv`` with a header row of raw column names, or ``application/json``: one
  record, a list of records, or ``{"instances": [...]}``. Extra columns (fnlwgt, income, ...)
  are ignored; a missing or unparsable field is a 400 naming the field and the record.
- ``output_fn``: ``text/csv`` (one probability per line) or ``application/json``
  (``{"predictions": [{"score": p, "label": ">50K" | "<=50K"}]}``).
"""

import io
import json
import os
from typing import Any, Dict, List

import numpy as np
import pandas as pd
import xgboost as xgb

DECISION_THRESHOLD = 0.5


class InputError(ValueError):
    """A request the model cannot score; the toolkit answers with ``status_code``."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def model_fn(model_dir: str) -> Dict[str, Any]:
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    # The schema travels in model.tar.gz or, when the model is the training job's archive as
    # is, in the code bundle beside this script.
    candidates = [model_dir, os.path.dirname(os.path.abspath(__file__))]
    paths = [os.path.join(d, "schema.json") for d in candidates]
    existing = [p for p in paths if os.path.exists(p)]
    if not existing:
        raise FileNotFoundError("schema.json is in neither {}".format(" nor ".join(candidates)))
    with open(existing[0]) as handle:
        schema = json.load(handle)
    return {"booster": booster, "schema": schema}


def records_from_json(body: Any) -> List[Dict[str, Any]]:
    payload = json.loads(body)
    if isinstance(payload, dict) and "instances" in payload:
        payload = payload["instances"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
        raise InputError("JSON body must be a record, a list of records or {'instances': [...]}")
    return payload


def input_fn(body: Any, content_type: str) -> pd.DataFrame:
    kind = (content_type or "").split(";")[0].strip().lower()
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        if kind == "text/csv":
            frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
        elif kind == "application/json":
            frame = pd.DataFrame(records_from_json(body)).astype(object)
        else:
            raise InputError("unsupported content type {!r}".format(content_type), 415)
    except (ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError("body is not valid {}: {}".format(kind, exc)) from exc
    if frame.empty:
        raise InputError("no records in the request")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def encode(frame: pd.DataFrame, schema: Dict[str, Any]) -> np.ndarray:
    """The schema's feature matrix; mirrors preprocess.encode (a test checks they agree)."""
    needed = schema["numeric_columns"] + schema["categorical_columns"]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise InputError("missing field(s): {}".format(", ".join(missing)))
    numeric = np.empty((len(frame), len(schema["numeric_columns"])))
    for index, column in enumerate(schema["numeric_columns"]):
        values = pd.to_numeric(frame[column].astype(str).str.strip(), errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise InputError(
                "record {}: field {!r} is not a number: {!r}".format(
                    int(bad[0]), column, frame[column].iloc[bad[0]]
                )
            )
        numeric[:, index] = values.to_numpy(dtype=float)
    blocks = [numeric]
    for column in schema["categorical_columns"]:
        vocabulary = np.asarray(schema["vocabularies"][column], dtype=object)
        values = frame[column].astype(str).str.strip().to_numpy()
        blocks.append((values[:, None] == vocabulary[None, :]) * 1.0)
    return np.hstack(blocks)


def predict_fn(data: pd.DataFrame, model: Dict[str, Any]) -> np.ndarray:
    features = encode(data, model["schema"])
    return model["booster"].predict(xgb.DMatrix(features))


def output_fn(prediction: np.ndarray, accept: str) -> Any:
    kind = (accept or "text/csv").split(";")[0].strip().lower()
    if kind in ("text/csv", "*/*"):
        return "\n".join(repr(float(p)) for p in prediction) + "\n"
    if kind == "application/json":
        predictions = [
            {"score": float(p), "label": ">50K" if p >= DECISION_THRESHOLD else "<=50K"}
            for p in prediction
        ]
        return json.dumps({"predictions": predictions})
    raise InputError("unsupported accept type {!r}".format(accept), 406)
