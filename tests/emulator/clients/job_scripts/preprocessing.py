"""A user's preprocessing script for the scikit-learn images with pandas 1.x (0.23-1, 1.2-1).

``error_bad_lines`` is pandas 1.x's (removed in 2.0), as is the in-place ``replace`` on a
column (a chained assignment pandas 3 no longer applies to the frame). It runs in the
container's pandas, not the emulator's.
"""

import argparse
import os

import numpy as np
import pandas as pd

BASE = "/opt/ml/processing"
CONTINUOUS = ["age", "education.num", "capital.gain", "capital.loss", "hours.per.week"]
CATEGORICAL = ["workclass", "marital.status", "occupation", "relationship", "race", "sex"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    df = pd.read_csv(f"{BASE}/input/adult.csv", error_bad_lines=False)
    df["income"].replace(["<=50K", ">50K"], [0, 1], inplace=True)
    df = df[(df["workclass"] != "?") & (df["occupation"] != "?")]
    features = pd.concat([df[CONTINUOUS], pd.get_dummies(df[CATEGORICAL])], axis=1)
    rows = np.column_stack([df["income"].to_numpy(), features.to_numpy(dtype=float)])
    np.random.RandomState(args.seed).shuffle(rows)
    train, validation, test = np.split(rows, [int(0.7 * len(rows)), int(0.85 * len(rows))])
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
        pd.DataFrame(part).to_csv(f"{BASE}/{name}/{name}.csv", header=False, index=False)
    print(f"pandas {pd.__version__}: {len(train)} train, {len(validation)} validation rows")
