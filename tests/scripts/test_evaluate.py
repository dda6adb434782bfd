"""evaluate.py: metrics on the real data, both model formats, and refusals of bad input."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from include.adult_income import gate
from tests.scripts.conftest import train_seed_model


def run(evaluate: ModuleType, model_dir: Path, test_dir: Path, out: Path, *extra: str) -> int:
    return evaluate.main(
        [
            "--model-dir",
            str(model_dir),
            "--test-dir",
            str(test_dir),
            "--output-dir",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def report(evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("evaluation")
    assert run(evaluate, model_dir, processed / "test", out) == 0
    return json.loads((out / "evaluation.json").read_text())


def test_quality_floor_with_the_seed_hyperparameters(report: dict) -> None:
    # Reference on this data: accuracy 0.869 +- 0.003 over 20 splits, ROC AUC ~0.926.
    assert report["metrics"]["accuracy"]["value"] >= 0.86
    assert report["metrics"]["roc_auc"]["value"] >= 0.92


def test_metrics_agree_with_the_confusion_matrix(report: dict) -> None:
    metrics = report["metrics"]
    cm = metrics["confusion_matrix"]
    total = cm["tn"] + cm["fp"] + cm["fn"] + cm["tp"]
    assert total == metrics["row_count"]["value"] == 9049
    assert metrics["accuracy"]["value"] == pytest.approx((cm["tn"] + cm["tp"]) / total)
    assert metrics["precision"]["value"] == pytest.approx(cm["tp"] / (cm["tp"] + cm["fp"]))
    assert metrics["recall"]["value"] == pytest.approx(cm["tp"] / (cm["tp"] + cm["fn"]))
    assert 0 < metrics["log_loss"]["value"] < 0.4


def test_test_rows_count_each_class(report: dict) -> None:
    cm = report["metrics"]["confusion_matrix"]
    assert report["test_rows"] == {
        "total": 9049,
        "positive": cm["fn"] + cm["tp"],
        "negative": cm["tn"] + cm["fp"],
    }
    assert 0.2 < report["test_rows"]["positive"] / 9049 < 0.3  # the data's class balance


@pytest.mark.parametrize(("label", "name"), [(0, "<=50K"), (1, ">50K")])
def test_a_one_class_test_set_is_counted_and_refused_by_the_gate(
    evaluate: ModuleType,
    processed: Path,
    model_dir: Path,
    tmp_path: Path,
    label: int,
    name: str,
) -> None:
    rows = (processed / "test" / "test.csv").read_text().splitlines()
    one_class = [row for row in rows if row.split(",", 1)[0] == str(label)][:40]
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("\n".join(one_class) + "\n")
    assert run(evaluate, model_dir, tmp_path / "test", tmp_path / "out") == 0
    evaluation = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert evaluation["test_rows"] == {
        "total": 40,
        "positive": 40 * label,
        "negative": 40 * (1 - label),
    }
    assert evaluation["metrics"]["roc_auc"]["value"] is None
    decision = gate.decide(evaluation, 0.0)  # any accuracy clears a threshold of 0
    assert not decision.passed
    assert (
        decision.reason
        == f"test set holds one class (40 rows, all {name!r}): accuracy says nothing"
    )


def test_model_quality_layout_for_the_registry(report: dict) -> None:
    quality = report["binary_classification_metrics"]
    assert quality["accuracy"]["value"] == report["metrics"]["accuracy"]["value"]
    assert quality["auc"]["value"] == report["metrics"]["roc_auc"]["value"]
    for name in ("precision", "recall", "f1"):
        assert quality[name]["value"] == report["metrics"][name]["value"]
    cm = report["metrics"]["confusion_matrix"]
    assert quality["confusion_matrix"] == {
        "0": {"0": cm["tn"], "1": cm["fp"]},
        "1": {"0": cm["fn"], "1": cm["tp"]},
    }


def test_report_curves_and_calibration(report: dict) -> None:
    roc = report["curves"]["roc"]
    assert 10 < len(roc["fpr"]) <= 200
    assert roc["fpr"][0] == 0 and roc["fpr"][-1] == 1 and roc["tpr"][-1] == 1
    assert roc["fpr"] == sorted(roc["fpr"])
    pr = report["curves"]["precision_recall"]
    assert len(pr["precision"]) == len(pr["recall"]) == len(pr["threshold"]) <= 200
    calibration = report["calibration"]
    assert len(calibration) == 10
    assert sum(row["count"] for row in calibration) == report["metrics"]["row_count"]["value"]
    # A reasonably calibrated model: the top bin's observed rate is high, the bottom's low.
    assert calibration[-1]["observed_rate"] > 0.8 > 0.1 > calibration[0]["observed_rate"]


def test_loads_the_old_pickled_booster(
    evaluate: ModuleType, processed: Path, report: dict, tmp_path: Path
) -> None:
    booster = train_seed_model(processed)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    payload = pickle.dumps(booster)
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    assert run(evaluate, model_dir, processed / "test", tmp_path / "out") == 0
    pickled = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert pickled["metrics"]["accuracy"] == report["metrics"]["accuracy"]


def tar_with(path: Path, name: str, *, kind: bytes = tarfile.REGTYPE, target: str = "") -> None:
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        payload = b"" if kind != tarfile.REGTYPE else b"data"
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize(
    ("member", "kind", "target", "message"),
    [
        ("../escape", tarfile.REGTYPE, "", "'../escape' would extract outside"),
        ("/etc/evil", tarfile.REGTYPE, "", "'/etc/evil' would extract outside"),
        ("xgboost-model", tarfile.SYMTYPE, "/etc/passwd", "is a link or device, refused"),
    ],
)
def test_unsafe_archives_are_refused(
    evaluate: ModuleType,
    processed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    member: str,
    kind: bytes,
    target: str,
    message: str,
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    tar_with(model_dir / "model.tar.gz", member, kind=kind, target=target)
    assert run(evaluate, model_dir, processed / "test", tmp_path / "out") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "escape").exists()


def test_missing_model_and_bad_test_data(
    evaluate: ModuleType,
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(evaluate, tmp_path, tmp_path, tmp_path / "out") == 2
    assert "no xgboost-model in" in capsys.readouterr().err

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "test.csv").write_text("1,0.5,3\n0,x,4\n")
    assert run(evaluate, model_dir, bad, tmp_path / "out") == 2
    assert "test.csv: row 2 column 2: 'x' is not a number" in capsys.readouterr().err

    (bad / "test.csv").write_text("1,0.5,3\n7,0.1,4\n")
    assert run(evaluate, model_dir, bad, tmp_path / "out") == 2
    assert "row 2: label '7' is not 0 or 1" in capsys.readouterr().err

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "model.tar.gz").write_bytes(b"not a tar")
    assert run(evaluate, tmp_path / "junk", bad, tmp_path / "out") == 2
    assert "not a readable tar archive" in capsys.readouterr().err


def test_feature_importance_names_the_schemas_columns_largest_gain_first(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    columns = json.loads((processed / "schema" / "schema.json").read_text())["feature_columns"]
    args = ["--schema-dir", str(processed / "schema")]
    assert run(evaluate, model_dir, processed / "test", tmp_path, *args) == 0
    ranked = json.loads((tmp_path / "evaluation.json").read_text())["feature_importance"]
    names = [entry["feature"] for entry in ranked]
    gains = [entry["total_gain"] for entry in ranked]
    assert len(set(names)) == len(names) > 15
    assert set(names) <= set(columns), set(names) - set(columns)
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0


def test_feature_importance_maps_f_index_to_that_column(evaluate: ModuleType) -> None:
    # Only column 3 decides the label: an off-by-one in the f<i> mapping names another one.
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(0)
    features = rng.random((400, 5))
    labels = (features[:, 3] > 0.5).astype(float)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgb.DMatrix(features, label=labels),
        num_boost_round=5,
    )
    columns = ["age", "capital.gain", "sex=Female", "marital.status=Married", "race=White"]

    ranked = evaluate.feature_importance(booster, columns)

    assert ranked[0]["feature"] == "marital.status=Married"
    # without a schema, xgboost's own names
    assert evaluate.feature_importance(booster, None)[0]["feature"] == "f3"
    with pytest.raises(evaluate.InputError, match=r"5 features but schema\.json lists 4"):
        evaluate.feature_importance(booster, columns[:4])


CHAMPION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/adult-income-xgboost/1"


def champion_dir(tmp_path: Path, model_archive: Path, schema: dict) -> Path:
    """The evaluate job's champion inputs as the DAG lays them out: model/ and code/."""
    root = tmp_path / "champion"
    (root / "model").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "model" / "model.tar.gz").write_bytes(model_archive.read_bytes())
    schema_file = tmp_path / "champion-schema.json"
    schema_file.write_text(json.dumps(schema))
    with tarfile.open(root / "code" / "inference.tar.gz", "w:gz") as archive:
        archive.add(schema_file, arcname="schema.json")
    return root


def run_with_champion(
    evaluate: ModuleType, model_dir: Path, processed: Path, champion: Path, out: Path
) -> dict:
    argv = [
        "--model-dir", str(model_dir), "--test-dir", str(processed / "test"),
        "--output-dir", str(out), "--schema-dir", str(processed / "schema"),
        "--champion-dir", str(champion), "--champion-arn", CHAMPION_ARN,
    ]  # fmt: skip
    assert evaluate.main(argv) == 0
    return json.loads((out / "evaluation.json").read_text())


def weak_model_archive(processed: Path, tmp_path: Path) -> Path:
    import numpy as np
    import xgboost as xgb

    train = np.loadtxt(processed / "train" / "train.csv", delimiter=",")
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 1},
        xgb.DMatrix(train[:, 1:], label=train[:, 0]),
        2,
    )
    booster.save_model(str(tmp_path / "weak.json"))
    with tarfile.open(tmp_path / "weak.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "weak.json", arcname="xgboost-model")
    return tmp_path / "weak.tar.gz"


def test_the_champion_is_scored_on_the_same_test_set(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    schema = json.loads((processed / "schema" / "schema.json").read_text())
    champion = champion_dir(tmp_path, weak_model_archive(processed, tmp_path), schema)
    report = run_with_champion(evaluate, model_dir, processed, champion, tmp_path / "out")
    scored = report["champion"]
    assert scored["model_package_arn"] == CHAMPION_ARN
    assert scored["comparable"] is True
    # A two-stump model is measurably worse than the seed model on the same rows.
    assert 0.7 < scored["accuracy"] < report["metrics"]["accuracy"]["value"] - 0.02
    assert 0.5 < scored["roc_auc"] < report["metrics"]["roc_auc"]["value"]
    decision = gate.decide(report, 0.8)
    assert decision.passed
    assert "accuracy >= champion adult-income-xgboost/1's" in decision.reason


def test_the_same_model_as_champion_scores_the_same(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    schema = json.loads((processed / "schema" / "schema.json").read_text())
    champion = champion_dir(tmp_path, model_dir / "model.tar.gz", schema)
    report = run_with_champion(evaluate, model_dir, processed, champion, tmp_path / "out")
    assert report["champion"]["accuracy"] == report["metrics"]["accuracy"]["value"]
    assert report["champion"]["roc_auc"] == report["metrics"]["roc_auc"]["value"]


def test_a_stronger_champion_rejects_the_challenger(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    schema = json.loads((processed / "schema" / "schema.json").read_text())
    champion = champion_dir(tmp_path, model_dir / "model.tar.gz", schema)
    weak = tmp_path / "weak-model"
    weak.mkdir()
    (weak / "model.tar.gz").write_bytes(weak_model_archive(processed, tmp_path).read_bytes())
    report = run_with_champion(evaluate, weak, processed, champion, tmp_path / "out")
    decision = gate.decide(report, 0.7)
    assert not decision.passed
    assert "accuracy < champion adult-income-xgboost/1's" in decision.reason


def test_no_champion_is_null(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "champion"
    for part in ("model", "code"):
        (empty / part).mkdir(parents=True)
        (empty / part / "no-champion.txt").write_text("no approved version\n")
    report = run_with_champion(evaluate, model_dir, processed, empty, tmp_path / "out")
    assert report["champion"] is None


def test_a_champion_on_another_schema_is_not_scored_on_these_columns(
    evaluate: ModuleType, processed: Path, model_dir: Path, tmp_path: Path
) -> None:
    schema = json.loads((processed / "schema" / "schema.json").read_text())
    other = dict(schema, feature_columns=[*schema["feature_columns"][:-1], "native.country_Mars"])
    champion = champion_dir(tmp_path, model_dir / "model.tar.gz", other)
    report = run_with_champion(evaluate, model_dir, processed, champion, tmp_path / "out")
    scored = report["champion"]
    assert scored["comparable"] is False
    assert scored["accuracy"] is None
    assert "another feature schema" in scored["reason"]
    assert "native.country_Mars" in scored["reason"]
    assert "not compared" in gate.decide(report, 0.8).reason
