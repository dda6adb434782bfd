"""A user's evaluation script for the sagemaker-xgboost images (ScriptProcessor).

The 1.0-1 built-in algorithm pickles its Booster into ``xgboost-model`` (the tutorials written
for that container ``pickle.load`` it); from 1.3-1 on it saves it with ``save_model``
(xgboost's own format), which ``Booster.load_model`` reads back. The script reads either.
"""

import json
import os
import pickle
import tarfile

import numpy as np
import pandas as pd
import xgboost

BASE = "/opt/ml/processing"
PICKLE_START = b"\x80"  # the first byte of every pickle from protocol 2 on


def load_booster(path):
    with open(path, "rb") as handle:
        if handle.read(1) == PICKLE_START:
            handle.seek(0)
            return pickle.load(handle)
    booster = xgboost.Booster()
    booster.load_model(path)
    return booster


if __name__ == "__main__":
    with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
        archive.extractall(".")
    booster = load_booster("xgboost-model")
    test = pd.read_csv(f"{BASE}/test/test.csv", header=None)
    labels = test.iloc[:, 0].to_numpy()
    scores = booster.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    accuracy = float(np.mean((scores > 0.5).astype(int) == labels))
    os.makedirs(f"{BASE}/evaluation", exist_ok=True)
    report = {"metrics": {"accuracy": {"value": accuracy}}, "xgboost": xgboost.__version__}
    with open(f"{BASE}/evaluation/evaluation.json", "w") as handle:
        json.dump(report, handle)
    print(f"xgboost {xgboost.__version__}: accuracy {accuracy:.4f} on {len(labels)} rows")
