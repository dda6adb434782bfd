"""inference.py: raw census records scored through the handlers agree with the booster on
preprocess.py's rows; bad records get a 4xx naming the field."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from tests.scripts.conftest import ADULT_CSV, load_script


@pytest.fixture(scope="module")
def inference() -> ModuleType:
    return load_script("inference")


@pytest.fixture(scope="module")
def model(inference: ModuleType, processed: Path, model_dir: Path, tmp_path_factory) -> dict:
    """model_fn over a directory holding xgboost-model and schema.json."""
    directory = tmp_path_factory.mktemp("serving")
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        archive.extractall(directory, filter="data")
    shutil.copy(processed / "schema" / "schema.json", directory / "schema.json")
    return inference.model_fn(str(directory))


@pytest.fixture(scope="module")
def raw_rows() -> pd.DataFrame:
    frame = pd.read_csv(ADULT_CSV, dtype=str, keep_default_na=False)
    return frame[~(frame == "?").any(axis=1)].head(100)


def test_raw_csv_scores_match_the_booster_on_encoded_rows(
    inference: ModuleType, preprocess: ModuleType, model: dict, raw_rows: pd.DataFrame
) -> None:
    body = raw_rows.to_csv(index=False)
    scored = inference.predict_fn(inference.input_fn(body, "text/csv"), model)
    cleaned = preprocess.clean(raw_rows.copy())
    expected = model["booster"].predict(xgb.DMatrix(preprocess.encode(cleaned, model["schema"])))
    np.testing.assert_allclose(scored, expected, atol=1e-6)
    lines = inference.output_fn(scored, "text/csv").splitlines()
    assert len(lines) == 100 and abs(float(lines[0]) - expected[0]) < 1e-6


def test_json_records_and_instances(inference: ModuleType, model: dict, raw_rows) -> None:
    records = raw_rows.head(3).drop(columns=["income", "fnlwgt"]).to_dict("records")
    single = inference.predict_fn(
        inference.input_fn(json.dumps(records[0]), "application/json"), model
    )
    wrapped = inference.predict_fn(
        inference.input_fn(json.dumps({"instances": records}), "application/json"), model
    )
    assert single[0] == pytest.approx(wrapped[0])
    answer = json.loads(inference.output_fn(wrapped, "application/json"))
    assert [p["label"] in {">50K", "<=50K"} for p in answer["predictions"]] == [True] * 3


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ('{"age": 39}', "application/json", 400, "missing field(s): capital.gain, capital.loss"),
        (None, "application/json", 400, "record 0: field 'age' is not a number: 'old'"),
        ("a,b\n1,2\n", "text/csv", 400, "missing field(s): age"),
        ("[1, 2]", "application/json", 400, "must be a record"),
        ("x", "text/plain", 415, "unsupported content type"),
    ],
)
def test_bad_records_get_a_4xx_naming_the_problem(
    inference: ModuleType, model: dict, raw_rows, body, content_type, status, message
) -> None:
    if body is None:
        record = raw_rows.head(1).to_dict("records")[0]
        body = json.dumps({**record, "age": "old"})
    with pytest.raises(inference.InputError) as raised:
        inference.predict_fn(inference.input_fn(body, content_type), model)
    assert raised.value.status_code == status
    assert message in str(raised.value)


def test_unsupported_accept_is_406(inference: ModuleType) -> None:
    with pytest.raises(inference.InputError) as raised:
        inference.output_fn(np.array([0.5]), "application/xml")
    assert raised.value.status_code == 406
