"""preprocess.py: cleaning, split, encoding and its refusals of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
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


PREFIX = "preprocess: error: "
POSITIVE_ROW = GOOD_ROW.replace("<=50K", ">50K")


def rows(negative: int, positive: int) -> list[str]:
    return [GOOD_ROW] * negative + [POSITIVE_ROW] * positive


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def quoted(row: str) -> str:
    """The row with every field quoted, as the bundled adult.csv writes them."""
    return ",".join(f'"{field}"' for field in row.split(","))


def refuse(
    preprocess: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str | bytes],
    *extra: str,
) -> str:
    """Run on ``files``; check the refusal's form; return the error line without its prefix."""
    data = tmp_path / "in"
    data.mkdir()
    for name, content in files.items():
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert preprocess.main([*preprocess_args(data, out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err  # one line
    assert err.startswith(PREFIX), err
    # The same line is the processing job's ExitMessage.
    assert (out / "output" / "message").read_text(encoding="utf-8") == err
    assert not (out / "train").exists()
    return err[len(PREFIX) :].rstrip("\n")


@pytest.fixture()
def refusal(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[[dict[str, str]], str]:
    """``refuse`` on this test's files: ``refusal(files)`` is the error line."""
    return lambda files: refuse(preprocess, tmp_path, capsys, files)


def test_a_valid_file_passes_bom_crlf_quotes_blank_lines_and_multiline_fields(
    preprocess: ModuleType, tmp_path: Path
) -> None:
    lines = [quoted(HEADER), "", *rows(4, 4), quoted(GOOD_ROW), " 39 , State-gov ,77516"]
    lines[-1] += GOOD_ROW[len("39,State-gov,77516") :]
    lines.append(GOOD_ROW.replace("Adm-clerical", '"Adm-\nclerical"'))
    lines += [*rows(4, 4), ""]
    data = tmp_path / "in"
    data.mkdir()
    (data / "ok.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    out = tmp_path / "out"
    assert preprocess.main(preprocess_args(data, out)) == 0
    written = sum(
        len((out / name / f"{name}.csv").read_text().splitlines())
        for name in ("train", "validation", "test")
    )
    assert written == 19
    assert not (out / "output" / "message").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"empty.csv": ""}, "empty.csv: file is empty"),
        ({"head.csv": HEADER + "\n"}, "head.csv: header only, no data rows"),
        (
            {"age.csv": csv_text(GOOD_ROW, GOOD_ROW, GOOD_ROW.replace("39,", "abc,", 1))},
            "age.csv: line 4, column 'age': 'abc' is not a number",
        ),
        (
            {"sub/label.csv": csv_text(GOOD_ROW, GOOD_ROW.replace("<=50K", "maybe"))},
            "sub/label.csv: line 3, column 'income': 'maybe' is not '<=50K' or '>50K'",
        ),
        (
            {"q.csv": csv_text(GOOD_ROW.replace("State-gov", "?"))},
            "q.csv: no rows left after dropping rows with '?'",
        ),
        (
            {"hours.csv": csv_text(GOOD_ROW[: -len("40,United-States,<=50K")] + "4O,x,>50K")},
            "hours.csv: line 2, column 'hours.per.week': '4O' is not a number",
        ),
        (
            {"long.csv": csv_text(GOOD_ROW.replace("39,", "9" * 60 + "x,", 1))},
            "long.csv: line 2, column 'age': '" + "9" * 35 + "...' is not a number",
        ),
    ],
    ids=["empty", "header-only", "number", "label", "all-missing", "hours", "long-value"],
)
def test_existing_checks_name_file_line_and_column(
    refusal, files: dict[str, str], message: str
) -> None:
    assert refusal(files) == message


def test_no_csv_files(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert refuse(preprocess, tmp_path, capsys, {}) == f"no .csv files under {tmp_path / 'in'}"


def test_missing_column_names_the_header_line(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = csv_text(GOOD_ROW.replace(",White", ""), header=HEADER.replace(",race", ""))
    message = refuse(preprocess, tmp_path, capsys, {"cols.csv": "\n" + text})
    assert message.startswith(
        "cols.csv: line 2 (header): missing column(s) 'race' (found: age, workclass, fnlwgt,"
    )


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "NaN", "1e999"])
def test_non_finite_numbers_are_refused(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    bad = GOOD_ROW.replace(",2174,", f",{value},")
    files = {"gain.csv": csv_text(*rows(10, 10), bad, *rows(1, 1))}
    assert refuse(preprocess, tmp_path, capsys, files) == (
        f"gain.csv: line 22, column 'capital.gain': {value!r} is not a finite number"
    )


@pytest.mark.parametrize(
    ("prefix", "newline"), [(b"", b"\n"), (b"\xef\xbb\xbf", b"\r\n")], ids=["lf", "bom-crlf"]
)
def test_bytes_that_are_not_utf8_are_refused_by_line_and_offset(
    preprocess: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prefix: bytes,
    newline: bytes,
) -> None:
    latin = GOOD_ROW.replace("United-States", "España").encode("latin-1")
    # Line 2 holds valid two-byte UTF-8 ('ô'), line 3 is blank: offsets count bytes, lines count
    # lines, blank ones included.
    lines = [HEADER, GOOD_ROW.replace("United-States", "Côte-d'Ivoire"), "", GOOD_ROW]
    body = prefix + newline.join([*(line.encode() for line in lines), latin, GOOD_ROW.encode()])
    offset = body.index(b"\xf1")  # of the file, 0-based
    assert refuse(preprocess, tmp_path, capsys, {"latin.csv": body}) == (
        f"latin.csv: line 5: byte 0xf1 at byte offset {offset} is not UTF-8 (save the file as "
        "UTF-8)"
    )


def test_an_unclosed_quote_is_reported_where_it_opened(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unclosed = GOOD_ROW.replace("Bachelors", '"Bachelors')
    files = {"q.csv": csv_text(*rows(5, 0), unclosed, *rows(5, 5))}
    assert refuse(preprocess, tmp_path, capsys, files) == (
        "q.csv: line 7: quoted field opened here is never closed"
    )


def test_lines_count_physical_lines_of_a_quoted_field_that_spans_lines(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_lines = GOOD_ROW.replace("Adm-clerical", '"Adm-\nclerical"')
    unclosed = GOOD_ROW.replace("Bachelors", '"Bachelors')
    files = {"q.csv": csv_text(two_lines, *rows(4, 0), unclosed, *rows(5, 5))}
    assert refuse(preprocess, tmp_path, capsys, files) == (
        "q.csv: line 8: quoted field opened here is never closed"
    )


def test_an_unbalanced_quote_in_a_quoted_file_is_reported_on_its_line(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # All fields quoted (as in adult.csv): the unclosed one swallows the next field's opening
    # quote. pandas would report a bad number in 'education.num' here, or nothing at all.
    unbalanced = quoted(GOOD_ROW).replace('"Bachelors"', '"Bachelors')
    lines = [quoted(row) for row in rows(3, 0)] + [unbalanced] + rows(5, 5)
    assert refuse(preprocess, tmp_path, capsys, {"q.csv": csv_text(*lines)}) == (
        "q.csv: line 5: text follows the closing quote of a field (expected ','): unbalanced quote?"
    )


@pytest.mark.parametrize(
    ("row", "fields"),
    [(GOOD_ROW + ",extra", "16 fields"), (GOOD_ROW.replace(",White", ""), "14 fields")],
)
def test_a_record_with_the_wrong_number_of_fields(
    preprocess: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    fields: str,
) -> None:
    files = {"n.csv": csv_text(*rows(7, 0), row, *rows(5, 5))}
    assert refuse(preprocess, tmp_path, capsys, files) == (
        f"n.csv: line 9: {fields}, the header has 15"
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"one.csv": csv_text(*rows(20, 0))},
            "one.csv: label 'income' has a single class ('<=50K', 20 rows): a classifier needs "
            "both '<=50K' and '>50K'",
        ),
        (
            {"a.csv": csv_text(*rows(0, 12)), "sub/b.csv": csv_text(*rows(0, 9))},
            "a.csv, sub/b.csv: label 'income' has a single class ('>50K', 21 rows): a classifier "
            "needs both '<=50K' and '>50K'",
        ),
        (
            # Both classes in the file, but every '>50K' row has a '?' and is dropped.
            {"q.csv": csv_text(*rows(20, 0), *[POSITIVE_ROW.replace("Male", "?")] * 10)},
            "q.csv: label 'income' has a single class ('<=50K', 20 rows): a classifier needs "
            "both '<=50K' and '>50K'",
        ),
    ],
    ids=["negative-only", "positive-only-two-files", "one-class-after-cleaning"],
)
def test_a_single_class_is_refused(refusal, files: dict[str, str], message: str) -> None:
    assert refusal(files) == message


@pytest.mark.parametrize(
    ("negative", "positive", "ratios", "message"),
    [
        (20, 5, [], "the train split gets 3 rows of '>50K' (minimum 5): '>50K' has only 5 rows"),
        (7, 20, [], "the train split gets 4 rows of '<=50K' (minimum 5): '<=50K' has only 7 rows"),
        (
            20,
            9,
            ["--validation-ratio", "0.05"],
            "the validation split gets 0 rows of '>50K' (minimum 1): '>50K' has only 9 rows",
        ),
        (
            20,
            7,
            ["--train-ratio", "0.8", "--validation-ratio", "0.15"],
            "the test split gets 0 rows of '>50K' (minimum 1): '>50K' has only 7 rows",
        ),
    ],
    ids=["train-positive", "train-negative", "validation", "test"],
)
def test_too_few_rows_of_a_class_in_a_split(
    preprocess: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    negative: int,
    positive: int,
    ratios: list[str],
    message: str,
) -> None:
    files = {"few.csv": csv_text(*rows(negative, positive))}
    assert refuse(preprocess, tmp_path, capsys, files, *ratios) == (
        f"few.csv: {message} in all after cleaning"
    )


def test_eight_rows_of_each_class_is_the_smallest_default_split(
    preprocess: ModuleType, tmp_path: Path
) -> None:
    assert preprocess.MIN_CLASS_ROWS == {"train": 5, "validation": 1, "test": 1}
    data = write_csv(tmp_path / "in", csv_text(*rows(8, 8)))
    assert preprocess.main(preprocess_args(data, tmp_path / "out")) == 0


def test_a_failure_file_that_cannot_be_written_changes_nothing(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "in", csv_text(GOOD_ROW.replace("39,", "x,", 1)))
    (tmp_path / "file").write_text("")
    args = [*preprocess_args(data, tmp_path / "out"), "--failure-file", str(tmp_path / "file/m")]
    assert preprocess.main(args) == 2
    assert capsys.readouterr().err == (
        "preprocess: error: part.csv: line 2, column 'age': 'x' is not a number\n"
    )


def test_the_failure_file_keeps_to_one_kilobyte_of_utf8(
    preprocess: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A header of many long, non-ASCII names: the 'found:' list runs past 1 KB.
    header = ",".join(f"colonne-é-{i:03d}" for i in range(100))
    data = write_csv(tmp_path / "in", header + "\n" + ",".join(["1"] * 100) + "\n")
    out = tmp_path / "out"
    assert preprocess.main(preprocess_args(data, out)) == 2
    err = capsys.readouterr().err
    assert len(err.encode()) > 1024
    message = (out / "output" / "message").read_bytes()
    assert len(message) <= 1024
    text = message.decode("utf-8")  # whole characters only
    assert text.endswith("\n") and err.startswith(text[:-1])


def test_runs_as_a_program_with_its_exit_code(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in", HEADER + "\n" + GOOD_ROW.replace("39,", "x,", 1))
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "preprocess.py"), *preprocess_args(data, tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr == "preprocess: error: part.csv: line 2, column 'age': 'x' is not a number\n"
    )


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
