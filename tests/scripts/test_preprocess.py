"""preprocess.py: cleaning, split, encoding and its refusals of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.scripts.conftest import ADULT_CSV, SCRIPTS, preprocess_args

HEADER = (
    "age,workclass,fnlwgt,education,education.num,marital.status,occupation,relationship,"
    "race,sex,capital.gain,capital.loss,hours.per.week,native.country,income"
)
GOOD_ROW = (
    "39,State-gov,77516,Bachelors,13,Never-married,Adm-clerical,Not-in-family,White,Male,"
    "2174,0,40,United-States,<=50K"
)


def test_real_data_rows_and_split_sizes(processed: Path) -> None:
    counts = {
        name: len((processed / name / f"{name}.csv").read_text().splitlines())
        for name in ("train", "validation", "test")
    }
    assert sum(counts.values()) == 30162  # the seed's cleaning keeps 30,162 rows
    assert counts["train"] == pytest.approx(0.6 * 30162, abs=2)
    assert counts["validation"] == pytest.approx(0.1 * 30162, abs=2)
    assert counts["test"] == pytest.approx(0.3 * 30162, abs=3)


def test_output_is_label_first_without_header_and_matches_schema(processed: Path) -> None:
    schema = json.loads((processed / "schema" / "schema.json").read_text())
    train = np.loadtxt(processed / "train" / "train.csv", delimiter=",")
    assert set(np.unique(train[:, 0])) == {0.0, 1.0}
    assert train.shape[1] == 1 + len(schema["feature_columns"])
    assert "fnlwgt" not in schema["feature_columns"]
    assert "education.num" not in schema["feature_columns"]
    assert schema["feature_columns"][:4] == [
        "age",
        "capital.gain",
        "capital.loss",
        "hours.per.week",
    ]
    # Each categorical block is one-hot: exactly one 1 per row for categories seen in train.
    start = len(schema["numeric_columns"])
    for column in schema["categorical_columns"]:
        width = len(schema["vocabularies"][column])
        assert (train[:, 1 + start : 1 + start + width].sum(axis=1) == 1).all(), column
        start += width


def test_split_is_stratified(processed: Path) -> None:
    rates = [
        np.loadtxt(processed / name / f"{name}.csv", delimiter=",", usecols=0).mean()
        for name in ("train", "validation", "test")
    ]
    assert max(rates) - min(rates) < 0.005


def test_same_seed_same_bytes_other_seed_other_split(
    preprocess: ModuleType, processed: Path, tmp_path: Path
) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    assert preprocess.main(preprocess_args(ADULT_CSV.parent, again, seed=42)) == 0
    assert preprocess.main(preprocess_args(ADULT_CSV.parent, other, seed=7)) == 0
    for name in ("train", "validation", "test"):
        first = (processed / name / f"{name}.csv").read_bytes()
        assert (again / name / f"{name}.csv").read_bytes() == first
        assert (other / name / f"{name}.csv").read_bytes() != first


def write_csv(directory: Path, text: str, name: str = "part.csv") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    return directory


def test_encoding_is_fitted_on_train_only(preprocess: ModuleType, tmp_path: Path) -> None:
    frame = pd.read_csv(ADULT_CSV, dtype=str, keep_default_na=False)
    frame = frame[~(frame == "?").any(axis=1)].head(2000).copy()
    frame["native.country"] = "United-States"
    cleaned = preprocess.clean(frame)
    splits = preprocess.split(cleaned, 3, 0.6, 0.1)
    # Give one test row a country no other row has: it must not reach the vocabulary.
    marker = splits["test"].index[0]
    splits["test"].loc[marker, "native.country"] = "Atlantis"
    schema = preprocess.fit_schema(splits["train"])
    assert schema["vocabularies"]["native.country"] == ["United-States"]
    encoded = preprocess.encode(splits["test"].loc[[marker]], schema)
    country = schema["feature_columns"].index("native.country=United-States")
    assert encoded[0, country] == 0
    assert encoded.shape[1] == len(schema["feature_columns"])


def test_trailing_dot_labels_are_accepted(preprocess: ModuleType, tmp_path: Path) -> None:
    rows = [GOOD_ROW.replace("<=50K", label) for label in ["<=50K.", ">50K.", ">50K"] * 10]
    data = write_csv(tmp_path / "in", HEADER + "\n" + "\n".join(rows) + "\n")
    assert preprocess.main(preprocess_args(data, tmp_path / "out")) == 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no .csv files under"),
        ({"empty.csv": ""}, "empty.csv: file is empty"),
        ({"head.csv": HEADER + "\n"}, "head.csv: header only, no data rows"),
        (
            {"cols.csv": HEADER.replace(",race", "") + "\n" + GOOD_ROW.replace(",White", "")},
            "cols.csv: missing column(s) 'race'",
        ),
        (
            {"age.csv": HEADER + "\n" + GOOD_ROW + "\n" + GOOD_ROW.replace("39,", "abc,", 1)},
            "age.csv: column 'age' row 2: 'abc' is not a number",
        ),
        (
            {"label.csv": HEADER + "\n" + GOOD_ROW.replace("<=50K", "maybe")},
            "label.csv: column 'income' row 1: 'maybe' is not '<=50K' or '>50K'",
        ),
        (
            {"q.csv": HEADER + "\n" + GOOD_ROW.replace("State-gov", "?")},
            "no rows left after dropping rows with '?'",
        ),
        (
            {"hours.csv": HEADER + "\n" + GOOD_ROW[: -len("40,United-States,<=50K")] + "4O,x,>50K"},
            "hours.csv: column 'hours.per.week' row 1: '4O' is not a number",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_problem(
    preprocess: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    message: str,
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for name, text in files.items():
        write_csv(data, text, name)
    assert preprocess.main(preprocess_args(data, tmp_path / "out")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("preprocess: error: ")
    assert message in err
    assert not (tmp_path / "out" / "train").exists()


def test_runs_as_a_program_with_its_exit_code(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in", HEADER + "\n" + GOOD_ROW.replace("39,", "x,", 1))
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "preprocess.py"), *preprocess_args(data, tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "column 'age' row 1: 'x' is not a number" in result.stderr


def test_scripts_keep_to_python_38_syntax() -> None:
    import ast

    for script in SCRIPTS.glob("*.py"):
        # feature_version=(3, 8) makes the parser reject newer syntax (match, except*, ...).
        ast.parse(script.read_text(), filename=str(script), feature_version=(3, 8))
        tree = ast.parse(script.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                annotation_like = isinstance(node.left, ast.Name) and node.left.id in {
                    "str",
                    "int",
                    "float",
                    "dict",
                    "list",
                    "None",
                }
                assert not annotation_like, f"{script.name}: X | Y types need Python 3.10"


def test_bundle_script_packages_the_inference_script_with_the_schema(
    preprocess: ModuleType, tmp_path: Path
) -> None:
    import tarfile

    args = [
        *preprocess_args(ADULT_CSV.parent, tmp_path),
        "--bundle-script",
        str(SCRIPTS / "inference.py"),
    ]
    assert preprocess.main(args) == 0
    with tarfile.open(tmp_path / "schema" / "inference.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["inference.py", "schema.json"]
        packed = archive.extractfile("schema.json").read()
    assert packed == (tmp_path / "schema" / "schema.json").read_bytes()
