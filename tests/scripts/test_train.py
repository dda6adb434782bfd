"""train.py (script mode): the built-in algorithm's training, log and model, and its refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import xgboost as xgb

from emulator.algorithms import xgboost_builtin
from tests.conftest import DAG_DEFAULT_HYPERPARAMETERS
from tests.scripts.conftest import load_script

ROWS = 1500  # a slice: quick, and still two classes
SEED = {**DAG_DEFAULT_HYPERPARAMETERS, "num_round": "12"}


@pytest.fixture(scope="module")
def train_script() -> ModuleType:
    return load_script("train")


@pytest.fixture(scope="module")
def channels(processed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first rows of preprocess.py's train and validation splits, as channel directories."""
    root = tmp_path_factory.mktemp("channels")
    for split in ("train", "validation"):
        (root / split).mkdir()
        lines = (processed / split / f"{split}.csv").read_text().splitlines()[:ROWS]
        (root / split / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def run(
    train_script: ModuleType,
    channels: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    hyperparameters: dict[str, str],
    sm_hps: dict | None = None,
) -> int:
    """train.py as the training toolkit starts it: SM_* variables and ``--name value`` args."""
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channels / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(channels / "validation"))
    monkeypatch.setenv("SM_MODEL_DIR", str(out / "model"))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(out / "output"))
    monkeypatch.setenv("SM_HPS", json.dumps(sm_hps if sm_hps is not None else {}))
    args = [part for key, value in hyperparameters.items() for part in (f"--{key}", value)]
    return train_script.main(args)


def builtin_model(channels: Path, out: Path, hyperparameters: dict[str, str]) -> Path:
    """The emulator's built-in XGBoost algorithm on the same channels (this venv's xgboost)."""
    (out / "config").mkdir(parents=True)
    (out / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    xgboost_builtin.train(out / "config", channels, out / "model", "1.7-1")
    return out / "model" / "xgboost-model"


def test_trains_as_the_builtin_algorithm_does(
    train_script, channels, tmp_path, monkeypatch, capsys
) -> None:
    assert run(train_script, channels, tmp_path / "script", monkeypatch, SEED) == 0
    log = capsys.readouterr().out
    script = xgb.Booster(model_file=str(tmp_path / "script" / "model" / "xgboost-model"))
    builtin = xgb.Booster(model_file=str(builtin_model(channels, tmp_path / "builtin", SEED)))
    features = np.loadtxt(channels / "validation" / "validation.csv", delimiter=",")[:, 1:]
    matrix = xgb.DMatrix(features)
    np.testing.assert_array_equal(script.predict(matrix), builtin.predict(matrix))
    assert script.num_boosted_rounds() == 12
    rounds = [line for line in log.splitlines() if line.startswith("[")]
    assert len(rounds) == 12
    assert re.fullmatch(
        r"\[11\]\ttrain-logloss:\d\.\d{5}\tvalidation-logloss:\d\.\d{5}", rounds[-1]
    )


def test_metric_definitions_read_the_log_as_cloudwatch_shows_it(
    train_script, channels, tmp_path, monkeypatch, capsys
) -> None:
    assert run(train_script, channels, tmp_path, monkeypatch, {**SEED, "num_round": "3"}) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")][-1]
    logged = last.replace("\t", "#011")  # the containers' rsyslog writes a tab as #011
    found = {}
    for definition in train_script.METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], logged)
        if match:
            found[definition["Name"]] = float(match[1])
    expected = {}
    for part in last.split("\t")[1:]:  # "validation-logloss:0.31234"
        key, _, value = part.partition(":")
        expected[key.replace("-", ":", 1)] = float(value)
    assert found == {
        "train:logloss": expected["train:logloss"],
        "validation:logloss": expected["validation:logloss"],
    }


def test_the_tuning_objective_metric_is_evaluated_last(
    train_script, channels, tmp_path, monkeypatch, capsys
) -> None:
    hyperparameters = {**SEED, "num_round": "2", "_tuning_objective_metric": "validation:auc"}
    assert run(train_script, channels, tmp_path, monkeypatch, hyperparameters) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")][-1]
    names = [part.split(":")[0] for part in last.split("\t")[1:]]
    assert names == ["train-logloss", "train-auc", "validation-logloss", "validation-auc"]


def test_a_tuning_jobs_objective_is_read_from_hyperparameters_json(
    train_script, channels, tmp_path, monkeypatch, capsys
) -> None:
    # The toolkit passes neither an argument nor SM_HPS for _tuning_objective_metric: only the
    # job's hyperparameters.json has it (JSON-encoded, as the SDK writes its values).
    config = tmp_path / "config"
    config.mkdir()
    written = {**SEED, "num_round": "2", "_tuning_objective_metric": '"validation:auc"'}
    (config / "hyperparameters.json").write_text(json.dumps(written))
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(config))
    assert run(train_script, channels, tmp_path, monkeypatch, {**SEED, "num_round": "2"}) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")][-1]
    assert [part.split(":")[0] for part in last.split("\t")[1:]][-1] == "validation-auc"


def test_arguments_override_sm_hps_and_early_stopping_watches_validation(
    train_script, channels, tmp_path, monkeypatch
) -> None:
    # SM_HPS holds the toolkit's decoded values; the arguments win where both are given.
    sm_hps = {"num_round": 200, "max_depth": 1, "eta": 0.9, "early_stopping_rounds": 2}
    assert (
        run(train_script, channels, tmp_path, monkeypatch, {"max_depth": "6"}, sm_hps=sm_hps) == 0
    )
    booster = xgb.Booster(model_file=str(tmp_path / "model" / "xgboost-model"))
    config = json.loads(booster.save_config())
    assert config["learner"]["gradient_booster"]["tree_train_param"]["max_depth"] == "6"
    assert booster.num_boosted_rounds() < 200  # eta 0.9 overfits at once: stopped early


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"num_rounds": "5"}, "unknown hyperparameter(s): num_rounds"),
        ({"eta": "2"}, "hyperparameter eta: 2.0 is outside [0, 1]"),
        ({"max_depth": "deep"}, "hyperparameter max_depth: 'deep' is not an integer"),
    ],
)
def test_bad_hyperparameters_fail_with_a_client_error(
    train_script, channels, tmp_path, monkeypatch, hyperparameters, reason
) -> None:
    assert run(train_script, channels, tmp_path, monkeypatch, hyperparameters) == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("ClientError: " + reason)
    assert not (tmp_path / "model" / "xgboost-model").exists()


def test_a_missing_channel_is_named(train_script, channels, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "absent"))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    assert train_script.main([]) == 1
    assert (tmp_path / "output" / "failure").read_text() == (
        "ClientError: Missing required channel: train"
    )


def test_sigterm_ends_training_after_the_round_and_saves_that_model(channels, tmp_path) -> None:
    """What a stopped job (StopTrainingJob, a tuning job's early stop) leaves: a model."""
    import os
    import signal
    import subprocess
    import sys

    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(channels / "train"),
        "SM_CHANNEL_VALIDATION": str(channels / "validation"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DIR": str(tmp_path / "output"),
    }
    script = Path(__file__).resolve().parents[2] / "include" / "scripts" / "train.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--num_round", "100000", "--eta", "0.01"],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("[2]"):
            process.send_signal(signal.SIGTERM)
            break
    output = process.stdout.read()
    assert process.wait(timeout=60) == 0
    assert "SIGTERM: saving the model of" in output
    booster = xgb.Booster(model_file=str(tmp_path / "model" / "xgboost-model"))
    assert 3 <= booster.num_boosted_rounds() < 100000
