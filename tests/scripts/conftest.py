"""Run the job scripts in-process through their main(argv), on the bundled data."""

from __future__ import annotations

import importlib.util
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "include" / "scripts"
ADULT_CSV = ROOT / "include" / "data" / "adult.csv"
DEFAULT_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "max_depth": 5,
    "eta": 0.3,
    "subsample": 1,
    "eval_metric": "logloss",
}
DEFAULT_NUM_ROUND = 50


def load_script(name: str) -> ModuleType:
    """Import include/scripts/<name>.py as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"job_script_{name}", SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def preprocess() -> ModuleType:
    return load_script("preprocess")


@pytest.fixture(scope="session")
def evaluate() -> ModuleType:
    return load_script("evaluate")


def preprocess_args(input_dir: Path, out: Path, seed: int = 42) -> list[str]:
    return [
        "--input-dir",
        str(input_dir),
        "--train-dir",
        str(out / "train"),
        "--validation-dir",
        str(out / "validation"),
        "--test-dir",
        str(out / "test"),
        "--schema-dir",
        str(out / "schema"),
        "--seed",
        str(seed),
        # Never the default /opt/ml/output/message of the machine running the tests.
        "--failure-file",
        str(out / "output" / "message"),
    ]


@pytest.fixture(scope="session")
def processed(preprocess: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """preprocess.py's output on the bundled data, seed 42."""
    out = tmp_path_factory.mktemp("processed")
    assert preprocess.main(preprocess_args(ADULT_CSV.parent, out)) == 0
    return out


def train_seed_model(processed: Path) -> xgb.Booster:
    train = np.loadtxt(processed / "train" / "train.csv", delimiter=",")
    matrix = xgb.DMatrix(train[:, 1:], label=train[:, 0])
    return xgb.train(DEFAULT_HYPERPARAMETERS, matrix, DEFAULT_NUM_ROUND)


@pytest.fixture(scope="session")
def model_dir(processed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz holding `xgboost-model`, as the built-in algorithm writes it."""
    booster = train_seed_model(processed)
    out = tmp_path_factory.mktemp("model")
    booster.save_model(str(out / "xgboost-model.ubj"))
    with tarfile.open(out / "model.tar.gz", "w:gz") as archive:
        archive.add(out / "xgboost-model.ubj", arcname="xgboost-model")
    (out / "xgboost-model.ubj").unlink()
    return out
