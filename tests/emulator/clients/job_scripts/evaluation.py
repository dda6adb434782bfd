"""A user's evaluation script for the sagemaker-xgboost:1.0-1 image (ScriptProcessor).

The 1.0-1 built-in algorithm pickles its Booster into ``xgboost-model``, so the script
``pickle.load``s it, as the tutorials written for that container do.
"""

import json
import os
import pickle
import tarfile

import numpy as np
import pandas as pd
import xgboost

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
        archive.extractall(".")
    with open("xgboost-model", "rb") as handle:
        booster = pickle.load(handle)
    test = pd.read_csv(f"{BASE}/test/test.csv", header=None)
    labels = test.iloc[:, 0].to_numpy()
    scores = booster.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    accuracy = float(np.mean((scores > 0.5).astype(int) == labels))
    os.makedirs(f"{BASE}/evaluation", exist_ok=True)
    report = {"metrics": {"accuracy": {"value": accuracy}}, "xgboost": xgboost.__version__}
    with open(f"{BASE}/evaluation/evaluation.json", "w") as handle:
        json.dump(report, handle)
    print(f"xgboost {xgboost.__version__}: accuracy {accuracy:.4f} on {len(labels)} rows")
