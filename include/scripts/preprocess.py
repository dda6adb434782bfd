"""Preprocess the UCI Adult census data for the built-in XGBoost algorithm.

Runs inside the SageMaker scikit-learn 1.2-1 container (a ProcessingJob) and offline, so it
keeps to Python 3.8 syntax and to pandas, numpy and the standard library.

Steps (the seed notebook's protocol):
1. read every ``*.csv`` under ``--input-dir`` (sorted, concatenated) and validate it: UTF-8,
   well-formed CSV (quotes balanced, every record as many fields as the header), required
   columns present, numeric columns finite numbers, label exactly ``<=50K`` or ``>50K`` (a
   trailing dot, as in the UCI test file, is accepted);
2. clean: drop ``fnlwgt`` and ``education.num``, drop rows with ``?`` in any column, label to
   0/1 (``>50K`` is 1); both classes must remain;
3. split 60/10/30 deterministically from ``--seed``, stratified by label so that every split
   keeps the data's 25/75 class balance; each split must hold at least MIN_CLASS_ROWS of each
   class;
4. one-hot encode the categorical columns with vocabularies fitted on the training split only
   (sorted categories seen in train); a category unseen there encodes as all zeros;
5. write train/validation/test CSVs (label first, no header: the built-in XGBoost format) and
   ``schema.json`` (the fitted feature schema) that inference uses to score raw records.

Bad input is a data error, not a crash: exit code 2 and one line on stderr,
``preprocess: error: <file>: line <n>[, column <c>]: <problem>``, where ``<n>`` is the physical
line in the file (1-based, the header is line 1; a record whose quoted field spans lines counts
every line). Problems of the whole data (one class, too few rows of a class) name the files.
The same line goes to ``--failure-file`` (the processing job's ExitMessage, see parse_args).
"""

import argparse
import csv
import glob
import io
import json
import math
import os
import sys
import tarfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

LABEL = "income"
POSITIVE_LABEL = ">50K"
NEGATIVE_LABEL = "<=50K"
NUMERIC_COLUMNS = ["age", "capital.gain", "capital.loss", "hours.per.week"]
CATEGORICAL_COLUMNS = [
    "workclass",
    "education",
    "marital.status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native.country",
]
DROPPED_COLUMNS = ["fnlwgt", "education.num"]
REQUIRED_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS + [LABEL]
MISSING = "?"
BAD_INPUT = 2
UTF8_BOM = b"\xef\xbb\xbf"
# Fewest rows of EACH class a split may hold. Train: below 5 the trees learn one class from a
# handful of examples and the run means nothing. Validation: the training job's validation
# logloss/AUC need both classes. Test: accuracy on a one-class test set says nothing (the gate
# refuses it too). With the 60/10/30 split the smaller class needs 8 rows after cleaning.
MIN_CLASS_ROWS = {"train": 5, "validation": 1, "test": 1}
# SageMaker keeps the first 1 KB of the message file as the processing job's ExitMessage.
MESSAGE_LIMIT = 1024


class InputError(Exception):
    """Bad input data; the message is the one line a person needs to fix it."""


def shown(value: str, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters: one line stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "..." + text[-1]


def describe_files(names: Sequence[str], limit: int = 3) -> str:
    shown_names = ", ".join(names[:limit])
    if len(names) > limit:
        shown_names += " and {} more".format(len(names) - limit)
    return shown_names


def read_inputs(input_dir: str) -> "Tuple[pd.DataFrame, List[str]]":
    """All CSVs under ``input_dir``, validated, as one frame of strings, and their names."""
    paths = sorted(glob.glob(os.path.join(input_dir, "**", "*.csv"), recursive=True))
    if not paths:
        raise InputError("no .csv files under {}".format(input_dir))
    frames = []
    names = []
    for path in paths:
        name = os.path.relpath(path, input_dir)
        frame = read_one(path, name)
        print("read {}: {} rows".format(name, len(frame)))
        frames.append(frame)
        names.append(name)
    return pd.concat(frames, ignore_index=True), names


def decode_utf8(raw: bytes, name: str) -> str:
    """The file's text; bytes that are not UTF-8 are refused by line and byte offset.

    A UTF-8 byte-order mark is dropped. Decoding the whole file at once finds the same first
    bad byte as decoding line by line (no byte of a multi-byte UTF-8 sequence is a line break),
    and its line is then counted from the bytes before it, the way ``csv`` counts lines.
    """
    start = len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0
    try:
        return raw[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        before = raw[:offset]
        line = len(before.splitlines()) + (
            0 if before and not before.endswith((b"\n", b"\r")) else 1
        )
        raise InputError(
            "{}: line {}: byte 0x{:02x} at byte offset {} is not UTF-8 (save the file as "
            "UTF-8)".format(name, line, raw[offset], offset)
        ) from exc


def csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "quoted field opened here is never closed"
    if "expected after" in text:
        # '"ab"c': pandas would silently glue the pieces; it is nearly always a stray quote.
        return "text follows the closing quote of a field (expected ','): unbalanced quote?"
    return "not valid CSV: {}".format(text)


def read_records(text: str, name: str) -> "Tuple[int, List[str], List[List[str]], List[int]]":
    """The header's line, the header, the data records and the line each record starts on.

    Lines are physical lines of the file, 1-based.

    The csv module, strict, runs over the raw text before pandas sees it, so that an unbalanced
    quote is reported where its record starts (pandas reports it, if at all, as some later
    problem), a record with the wrong number of fields is refused rather than padded or shifted,
    and every row keeps the line it came from even when a quoted field spans lines. Blank lines
    are skipped, as pandas skips them.
    """
    limit = csv.field_size_limit()
    # An unterminated quote swallows the rest of the file into one field: let it reach the end
    # of the data, where the reader says so, instead of tripping the field size limit first.
    csv.field_size_limit(max(limit, len(text) + 1))
    header = None  # type: Optional[List[str]]
    header_line = 0
    records = []  # type: List[List[str]]
    lines = []  # type: List[int]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    start = 1
    try:
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise InputError("{}: line {}: {}".format(name, start, csv_problem(exc))) from exc
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                header, header_line = record, start
                continue
            if len(record) != len(header):
                raise InputError(
                    "{}: line {}: {} field{}, the header has {}".format(
                        name, start, len(record), "" if len(record) == 1 else "s", len(header)
                    )
                )
            records.append(record)
            lines.append(start)
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise InputError("{}: file is empty".format(name))
    return header_line, header, records, lines


def read_one(path: str, name: str) -> pd.DataFrame:
    """One validated CSV as strings: the REQUIRED_COLUMNS, then the dropped columns it has."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw:
        raise InputError("{}: file is empty".format(name))
    header_line, header, records, lines = read_records(decode_utf8(raw, name), name)
    header = [column.strip() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise InputError(
            "{}: line {} (header): missing column(s) {} (found: {})".format(
                name, header_line, ", ".join(repr(c) for c in missing), ", ".join(header)
            )
        )
    used = REQUIRED_COLUMNS + [c for c in DROPPED_COLUMNS if c in header]
    twice = [column for column in used if header.count(column) > 1]
    if twice:
        raise InputError(
            "{}: line {} (header): column {!r} appears {} times".format(
                name, header_line, twice[0], header.count(twice[0])
            )
        )
    if not records:
        raise InputError("{}: header only, no data rows".format(name))
    positions = [header.index(column) for column in used]
    # Everything as text first: validation, not pandas, decides what a number is.
    frame = pd.DataFrame(
        [[record[i].strip() for i in positions] for record in records], columns=used, dtype=str
    )
    validate_numbers(frame, lines, name)
    validate_labels(frame, lines, name)
    return frame


def first_bad_row(mask: "pd.Series") -> int:
    """0-based position of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy(dtype=bool))[0])


def number_problem(value: str) -> str:
    """Why ``value`` (which pandas did not turn into a finite number) is refused."""
    try:
        number = float(value)
    except ValueError:
        return "is not a number"
    # 'inf', '-inf', 'Infinity', 'nan', 'NaN', '1e999': numbers to pandas, poison to training.
    return "is not a number" if math.isfinite(number) else "is not a finite number"


def validate_numbers(frame: pd.DataFrame, lines: Sequence[int], name: str) -> None:
    for column in NUMERIC_COLUMNS + [c for c in DROPPED_COLUMNS if c in frame.columns]:
        values = frame[column]
        parsed = pd.to_numeric(values.where(values != MISSING), errors="coerce")
        bad = ~np.isfinite(parsed.to_numpy(dtype=float)) & (values != MISSING).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = values.iloc[row]
            raise InputError(
                "{}: line {}, column {!r}: {} {}".format(
                    name, lines[row], column, shown(value), number_problem(value)
                )
            )


def validate_labels(frame: pd.DataFrame, lines: Sequence[int], name: str) -> None:
    labels = frame[LABEL].str.rstrip(".")
    bad = ~labels.isin([POSITIVE_LABEL, NEGATIVE_LABEL])
    if bad.any():
        row = first_bad_row(bad)
        raise InputError(
            "{}: line {}, column {!r}: {} is not {!r} or {!r}".format(
                name,
                lines[row],
                LABEL,
                shown(frame[LABEL].iloc[row]),
                NEGATIVE_LABEL,
                POSITIVE_LABEL,
            )
        )
    frame[LABEL] = labels


def clean(frame: pd.DataFrame, names: Sequence[str] = ()) -> pd.DataFrame:
    """The seed's cleaning: drop two columns and every row with a ``?``; label to 0/1.

    ``names``, the files the rows came from, only name them in an error."""
    frame = frame[REQUIRED_COLUMNS].copy()
    complete = ~(frame == MISSING).any(axis=1)
    frame = frame[complete].reset_index(drop=True)
    if frame.empty:
        raise InputError(
            "{}no rows left after dropping rows with '?'".format(
                describe_files(names) + ": " if names else ""
            )
        )
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column])
    frame[LABEL] = (frame[LABEL] == POSITIVE_LABEL).astype(int)
    return frame


def class_name(label: int) -> str:
    return POSITIVE_LABEL if label == 1 else NEGATIVE_LABEL


def check_classes(frame: pd.DataFrame, names: Sequence[str]) -> None:
    """Both classes must survive cleaning: a one-class input trains a constant model whose
    accuracy is 1.0 on a test set of that same class."""
    classes = sorted(set(frame[LABEL].tolist()))
    if len(classes) == 1:
        raise InputError(
            "{}: label {!r} has a single class ({!r}, {} rows): a classifier needs both {!r} "
            "and {!r}".format(
                describe_files(names),
                LABEL,
                class_name(classes[0]),
                len(frame),
                NEGATIVE_LABEL,
                POSITIVE_LABEL,
            )
        )


def check_splits(
    splits: Dict[str, pd.DataFrame], cleaned: pd.DataFrame, names: Sequence[str]
) -> None:
    """Every split holds at least MIN_CLASS_ROWS[split] rows of each class."""
    totals = {label: int((cleaned[LABEL] == label).sum()) for label in (0, 1)}
    for split_name in ("train", "validation", "test"):
        minimum = MIN_CLASS_ROWS[split_name]
        for label in (0, 1):
            count = int((splits[split_name][LABEL] == label).sum())
            if count < minimum:
                raise InputError(
                    "{}: the {} split gets {} row{} of {!r} (minimum {}): {!r} has only {} rows "
                    "in all after cleaning".format(
                        describe_files(names),
                        split_name,
                        count,
                        "" if count == 1 else "s",
                        class_name(label),
                        minimum,
                        class_name(label),
                        totals[label],
                    )
                )


def split(
    frame: pd.DataFrame, seed: int, train_ratio: float, validation_ratio: float
) -> Dict[str, pd.DataFrame]:
    """Stratified, seeded 60/10/30 split; each class is shuffled and cut the same way."""
    rng = np.random.RandomState(seed)
    parts = {"train": [], "validation": [], "test": []}  # type: Dict[str, List[np.ndarray]]
    for label in (0, 1):
        index = np.flatnonzero(frame[LABEL].to_numpy() == label)
        index = index[rng.permutation(len(index))]
        n_train = round(len(index) * train_ratio)
        n_validation = round(len(index) * validation_ratio)
        parts["train"].append(index[:n_train])
        parts["validation"].append(index[n_train : n_train + n_validation])
        parts["test"].append(index[n_train + n_validation :])
    result = {}
    for name, pieces in parts.items():
        rows = np.concatenate(pieces)
        rows = rows[rng.permutation(len(rows))]
        result[name] = frame.iloc[rows].reset_index(drop=True)
    return result


def fit_schema(train: pd.DataFrame) -> Dict[str, object]:
    """Vocabularies from the training split only, and the resulting ordered feature columns."""
    vocabularies = {
        column: sorted(train[column].unique().tolist()) for column in CATEGORICAL_COLUMNS
    }
    features = list(NUMERIC_COLUMNS)
    for column in CATEGORICAL_COLUMNS:
        features.extend("{}={}".format(column, value) for value in vocabularies[column])
    return {
        "format": "adult-income-feature-schema/1",
        "label": {"column": LABEL, "positive": POSITIVE_LABEL, "negative": NEGATIVE_LABEL},
        "numeric_columns": list(NUMERIC_COLUMNS),
        "categorical_columns": list(CATEGORICAL_COLUMNS),
        "vocabularies": vocabularies,
        "feature_columns": features,
        "dropped_columns": list(DROPPED_COLUMNS),
        "missing_value": MISSING,
    }


def encode(frame: pd.DataFrame, schema: Dict[str, object]) -> np.ndarray:
    """Feature matrix in schema order; unseen categories become all zeros.

    include/scripts/inference.py repeats this function on purpose: it runs in the model
    container, where this script is not packaged. A test checks both encode alike.
    """
    numeric = frame[schema["numeric_columns"]].to_numpy(dtype=float)
    blocks = [numeric]
    for column in schema["categorical_columns"]:
        vocabulary = schema["vocabularies"][column]
        values = frame[column].to_numpy()
        blocks.append((values[:, None] == np.asarray(vocabulary, dtype=object)[None, :]) * 1.0)
    return np.hstack(blocks)


def write_split(frame: pd.DataFrame, schema: Dict[str, object], directory: str, name: str) -> str:
    os.makedirs(directory, exist_ok=True)
    matrix = np.hstack([frame[[LABEL]].to_numpy(dtype=float), encode(frame, schema)])
    path = os.path.join(directory, name + ".csv")
    # %.10g keeps integers as integers and makes the bytes independent of the platform.
    np.savetxt(path, matrix, fmt="%.10g", delimiter=",")
    return path


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--train-dir", default="/opt/ml/processing/train")
    parser.add_argument("--validation-dir", default="/opt/ml/processing/validation")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--schema-dir", default="/opt/ml/processing/schema")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--bundle-script",
        default=None,
        help="an inference script to package with schema.json as <schema-dir>/inference.tar.gz",
    )
    parser.add_argument("--train-ratio", type=float, default=0.6)
    parser.add_argument("--validation-ratio", type=float, default=0.1)
    # Where the one-line error also goes. A ProcessingJob's container reports back through
    # /opt/ml/output/message: SageMaker copies its first 1 KB (UTF-8) into DescribeProcessingJob's
    # ExitMessage once the job ends, Failed included ("Save and Access Metadata Information About
    # Your Processing Job" in the SageMaker developer guide). /opt/ml/output/failure is the
    # training-job contract (FailureReason) and is not documented for processing jobs, whose
    # FailureReason for a non-zero exit is SageMaker's own. '' turns it off.
    parser.add_argument(
        "--failure-file",
        default="/opt/ml/output/message",
        help="also write the error line here (default: the processing job's ExitMessage file)",
    )
    args = parser.parse_args(argv)
    if not (0 < args.train_ratio < 1 and 0 < args.validation_ratio < 1):
        parser.error("--train-ratio and --validation-ratio must be between 0 and 1")
    if args.train_ratio + args.validation_ratio >= 1:
        parser.error("--train-ratio + --validation-ratio must leave rows for the test split")
    return args


def write_failure(path: str, line: str) -> None:
    """Best effort: the error line in ``path``, cut to MESSAGE_LIMIT bytes of valid UTF-8."""
    if not path:
        return
    data = (line + "\n").encode("utf-8", errors="replace")
    if len(data) > MESSAGE_LIMIT:
        data = data[: MESSAGE_LIMIT - 1].decode("utf-8", errors="ignore").encode("utf-8") + b"\n"
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError:
        pass  # the message is a courtesy; stderr and the exit code already say it all


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        raw, names = read_inputs(args.input_dir)
        cleaned = clean(raw, names)
        check_classes(cleaned, names)
        splits = split(cleaned, args.seed, args.train_ratio, args.validation_ratio)
        check_splits(splits, cleaned, names)
    except InputError as exc:
        line = "preprocess: error: {}".format(" ".join(str(exc).split()))
        print(line, file=sys.stderr)
        write_failure(args.failure_file, line)
        return BAD_INPUT
    print(
        "rows in: {}; dropped with '?': {}; kept: {}".format(
            len(raw), len(raw) - len(cleaned), len(cleaned)
        )
    )
    schema = fit_schema(splits["train"])
    schema["seed"] = args.seed
    schema["rows"] = {name: len(frame) for name, frame in splits.items()}
    directories = {
        "train": args.train_dir,
        "validation": args.validation_dir,
        "test": args.test_dir,
    }
    for name, frame in splits.items():
        write_split(frame, schema, directories[name], name)
        print(
            "{}: {} rows, {} positive, {} features".format(
                name, len(frame), int(frame[LABEL].sum()), len(schema["feature_columns"])
            )
        )
    os.makedirs(args.schema_dir, exist_ok=True)
    with open(os.path.join(args.schema_dir, "schema.json"), "w") as handle:
        json.dump(schema, handle, indent=2, sort_keys=True)
    if args.bundle_script:
        # The serving code bundle (SAGEMAKER_SUBMIT_DIRECTORY) carries the schema it needs, so
        # the model scores raw records with exactly the encoding this run trained on.
        bundle = os.path.join(args.schema_dir, "inference.tar.gz")
        with tarfile.open(bundle, "w:gz") as archive:
            archive.add(args.bundle_script, arcname=os.path.basename(args.bundle_script))
            archive.add(os.path.join(args.schema_dir, "schema.json"), arcname="schema.json")
        print("serving bundle: {}".format(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
