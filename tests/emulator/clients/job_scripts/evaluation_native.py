"""A user's evaluation script for sagemaker-xgboost:1.7-1 (ScriptProcessor).

From 1.3-1 on, the built-in algorithm saves its Booster with ``save_model`` (xgboost's own
format), which ``Booster.load_model`` reads back.
"""

import json
import os
import tarfile

import numpy as np
import pandas as pd
import xgboost

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
        archive.extractall(".")
    booster = xgboost.Booster()
    booster.load_model("xgboost-model")
    test = pd.read_csv(f"{BASE}/test/test.csv", header=None)
    labels = test.iloc[:, 0].to_numpy()
    scores = booster.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    accuracy = float(np.mean((scores > 0.5).astype(int) == labels))
    os.makedirs(f"{BASE}/evaluation", exist_ok=True)
    report = {"metrics": {"accuracy": {"value": accuracy}}, "xgboost": xgboost.__version__}
    with open(f"{BASE}/evaluation/evaluation.json", "w") as handle:
        json.dump(report, handle)
    print(f"xgboost {xgboost.__version__}: accuracy {accuracy:.4f} on {len(labels)} rows")
