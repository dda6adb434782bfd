"""``sagemaker_xgboost_container.encoder``: request bodies to DMatrix, as inference scripts
written for the XGBoost container use it (``xgb_encoders.decode(body, content_type)``,
``csv_to_dmatrix``, ``libsvm_to_dmatrix``, ``json_to_jsonlines``). Written for the emulator;
runs on the images' Pythons (3.7 and up) and their numpy and xgboost.

- CSV: rows of features, the delimiter sniffed from the first line (``,`` when it sniffs a
  letter or digit), empty fields NaN; bytes are decoded as UTF-8.
- LIBSVM (``text/libsvm``, ``text/x-libsvm``): ``index:value`` tokens per line; indexes are
  columns as written.
- Any other content type raises UnsupportedFormatError (the model server answers 415).
"""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import xgboost as xgb

CSV = "text/csv"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
X_RECORDIO_PROTOBUF = "application/x-recordio-protobuf"

try:  # the toolkit's own error class where the image has the toolkit, so handlers catch it
    from sagemaker_containers._errors import UnsupportedFormatError
except ImportError:  # pragma: no cover - every XGBoost image ships sagemaker-containers

    class UnsupportedFormatError(Exception):  # type: ignore[no-redef]
        def __init__(self, content_type: str) -> None:
            super().__init__(f"Content type {content_type} is not supported by this framework.")


def _text(data: Any) -> str:
    return data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)


def csv_to_dmatrix(data: Any, dtype: Any = None) -> xgb.DMatrix:
    """CSV rows (str or UTF-8 bytes, no leading or trailing newline) as a DMatrix."""
    text = _text(data)
    sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if v == "" else v for v in line.split(delimiter)] for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(dtype if dtype is not None else float))


def libsvm_to_dmatrix(data: Any) -> xgb.DMatrix:
    """LIBSVM lines (anything that is not ``index:value``, a label, is skipped) as a DMatrix."""
    rows = []
    for line in _text(data).strip().split("\n"):
        row = {}
        for token in line.split():
            if ":" in token:
                index, value = token.split(":", 1)
                row[int(index)] = float(value)
        rows.append(row)
    if not any(rows):
        return xgb.DMatrix(np.empty((0, 0)))
    width = max(index for row in rows for index in row) + 1
    matrix = np.zeros((len(rows), width))
    for number, row in enumerate(rows):
        for index, value in row.items():
            matrix[number, index] = value
    return xgb.DMatrix(matrix)


def recordio_protobuf_to_dmatrix(data: Any) -> xgb.DMatrix:
    raise UnsupportedFormatError(X_RECORDIO_PROTOBUF + " (not emulated)")


def json_to_jsonlines(json_data: Any) -> bytes:
    """``{"key": [entry, ...]}`` (a dict or its JSON) as one JSON line per entry."""
    response = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(response) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    (entries,) = response.values()
    return "".join(json.dumps(entry) + "\n" for entry in entries).encode("utf-8")


_DECODERS = {CSV: csv_to_dmatrix, LIBSVM: libsvm_to_dmatrix, X_LIBSVM: libsvm_to_dmatrix}


def decode(obj: Any, content_type: str) -> xgb.DMatrix:
    """The body of a request of ``content_type`` (parameters ignored) as a DMatrix."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == X_RECORDIO_PROTOBUF:
        return recordio_protobuf_to_dmatrix(obj)
    decoder = _DECODERS.get(media)
    if decoder is None:
        raise UnsupportedFormatError(media)
    return decoder(obj)
