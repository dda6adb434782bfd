"""A user's inference script for the XGBoost container: ``model_fn`` and ``transform_fn``.

``transform_fn`` does the whole request itself (no input_fn/predict_fn/output_fn): CSV rows
in, one JSON line per row out, each naming the content type and accept it was called with.
Its labels come from the user's own ``adult_scoring`` package, a wheel beside this script that
requirements.txt names: the model server installs it before importing this script.
"""

import json
import os

import adult_scoring
import numpy as np
import xgboost as xgb


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


def transform_fn(model, request_body, content_type, accept):
    if content_type != "text/csv":
        raise ValueError(f"transform_fn takes text/csv, not {content_type}")
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    rows = [line for line in request_body.splitlines() if line.strip()]
    features = np.array([[float(value) for value in row.split(",")] for row in rows])
    scores = model.predict(xgb.DMatrix(features))
    lines = [
        json.dumps(
            {
                "score": round(float(score), 6),
                "label": adult_scoring.label_of(score),
                "content_type": content_type,
                "accept": accept,
                "handler": "transform_fn",
                "scoring": adult_scoring.VERSION,
            }
        )
        for score in scores
    ]
    return "\n".join(lines), "application/jsonlines"
