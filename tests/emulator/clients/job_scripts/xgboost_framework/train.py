"""A user's XGBoost script-mode training script (``sagemaker.xgboost.XGBoost(entry_point=...)``).

Reads the ``train`` channel (headerless CSV, label first), names the columns with the user's
own ``adult_features`` package (a wheel beside this script, installed from requirements.txt by
the training toolkit before the script starts), trains a Booster and saves it as
``xgboost-model`` (xgboost's own format), plus what it saw of its requirement.
"""

import argparse
import json
import os

import adult_features
import pandas as pd
import xgboost as xgb

parser = argparse.ArgumentParser()
parser.add_argument("--num_round", type=int, default=10)
parser.add_argument("--max_depth", type=int, default=3)
parser.add_argument("--eta", type=float, default=0.3)
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
args, _ = parser.parse_known_args()

frames = [
    pd.read_csv(os.path.join(args.train, name), header=None)
    for name in sorted(os.listdir(args.train))
]
data = pd.concat(frames)
data.columns = ["label", *adult_features.FEATURES]
matrix = xgb.DMatrix(data[adult_features.FEATURES], label=data["label"])
booster = xgb.train(
    {"objective": "binary:logistic", "max_depth": args.max_depth, "eta": args.eta},
    matrix,
    num_boost_round=args.num_round,
)
booster.save_model(os.path.join(args.model_dir, "xgboost-model"))
with open(os.path.join(args.model_dir, "requirement.json"), "w") as handle:
    json.dump(
        {
            "package": adult_features.__name__,
            "version": adult_features.VERSION,
            "file": adult_features.__file__,
            "xgboost": xgb.__version__,
        },
        handle,
    )
print(f"trained {args.num_round} rounds on {len(data)} rows")
