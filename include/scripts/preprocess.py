"""Preprocess the UCI Adult census data for the built-in XGBoost algorithm.

Runs inside the SageMaker scikit-learn 1.2-1 container (a ProcessingJob) and offline, so it
keeps to Python 3.8 syntax and to pandas, numpy and the standard library.

Steps (the seed notebook's protocol):
1. read every ``*.csv`` under ``--input-dir`` (sorted, concatenated) and validate it: required
   columns present, numeric columns numeric, label exactly ``<=50K`` or ``>50K`` (a trailing
   dot, as in the UCI test file, is accepted). Bad input exits with code 2 and one line on stderr
   naming the file, column and first bad row (1-based data row, the header not counted);
2. clean: drop ``fnlwgt`` and ``education.num``, drop rows with ``?`` in any column, label to
   0/1 (``>50K`` is 1);
3. split 60/10/30 deterministically from ``--seed``, stratified by label so that every split
   keeps the data's 25/75 class balance;
4. one-hot encode the categorical columns with vocabularies fitted on the training split only
   (sorted categories seen in train); a category unseen there encodes as all zeros;
5. write train/validation/test CSVs (label first, no header: the built-in XGBoost format) and
   ``schema.json`` (the fitted feature schema) that inference uses to score raw records.
"""

import argparse
import glob
import json
import os
import sys
import tarfile
from typing import Dict, List, Optional, Sequence  # noqa: F401 - List in a type comment

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


class InputError(Exception):
    """Bad input data; the message is the one line a person needs to fix it."""


def read_inputs(input_dir: str) -> pd.DataFrame:
    """All CSVs under ``input_dir``, validated, as one frame of strings and numbers."""
    paths = sorted(glob.glob(os.path.join(input_dir, "**", "*.csv"), recursive=True))
    if not paths:
        raise InputError("no .csv files under {}".format(input_dir))
    frames = []
    for path in paths:
        name = os.path.relpath(path, input_dir)
        frame = read_one(path, name)
        print("read {}: {} rows".format(name, len(frame)))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_one(path: str, name: str) -> pd.DataFrame:
    if os.path.getsize(path) == 0:
        raise InputError("{}: file is empty".format(name))
    try:
        # Everything as text first: validation, not pandas, decides what a number is.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise InputError("{}: not a valid CSV: {}".format(name, str(exc).strip())) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("{}: file is empty".format(name)) from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(
            "{}: missing column(s) {} (found: {})".format(
                name, ", ".join(repr(c) for c in missing), ", ".join(frame.columns)
            )
        )
    if frame.empty:
        raise InputError("{}: header only, no data rows".format(name))
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    validate_numbers(frame, name)
    validate_labels(frame, name)
    return frame


def first_bad_row(mask: "pd.Series") -> int:
    """1-based data row number of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


def validate_numbers(frame: pd.DataFrame, name: str) -> None:
    for column in NUMERIC_COLUMNS + [c for c in DROPPED_COLUMNS if c in frame.columns]:
        values = frame[column]
        parsed = pd.to_numeric(values.where(values != MISSING), errors="coerce")
        bad = parsed.isna() & (values != MISSING)
        if bad.any():
            row = first_bad_row(bad)
            raise InputError(
                "{}: column {!r} row {}: {!r} is not a number".format(
                    name, column, row, values.iloc[row - 1]
                )
            )


def validate_labels(frame: pd.DataFrame, name: str) -> None:
    labels = frame[LABEL].str.rstrip(".")
    bad = ~labels.isin([POSITIVE_LABEL, NEGATIVE_LABEL])
    if bad.any():
        row = first_bad_row(bad)
        raise InputError(
            "{}: column {!r} row {}: {!r} is not {!r} or {!r}".format(
                name, LABEL, row, frame[LABEL].iloc[row - 1], NEGATIVE_LABEL, POSITIVE_LABEL
            )
        )
    frame[LABEL] = labels


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed's cleaning: drop two columns and every row with a ``?``; label to 0/1."""
    frame = frame[REQUIRED_COLUMNS].copy()
    complete = ~(frame == MISSING).any(axis=1)
    frame = frame[complete].reset_index(drop=True)
    if frame.empty:
        raise InputError("no rows left after dropping rows with '?'")
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column])
    frame[LABEL] = (frame[LABEL] == POSITIVE_LABEL).astype(int)
    return frame


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
    args = parser.parse_args(argv)
    if not (0 < args.train_ratio < 1 and 0 < args.validation_ratio < 1):
        parser.error("--train-ratio and --validation-ratio must be between 0 and 1")
    if args.train_ratio + args.validation_ratio >= 1:
        parser.error("--train-ratio + --validation-ratio must leave rows for the test split")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        raw = read_inputs(args.input_dir)
        cleaned = clean(raw)
    except InputError as exc:
        print("preprocess: error: {}".format(exc), file=sys.stderr)
        return BAD_INPUT
    print(
        "rows in: {}; dropped with '?': {}; kept: {}".format(
            len(raw), len(raw) - len(cleaned), len(cleaned)
        )
    )
    splits = split(cleaned, args.seed, args.train_ratio, args.validation_ratio)
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
