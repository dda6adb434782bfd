"""The model server's reading of requests, as each container reads them (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.algorithms.model_server import (
    ClientInputError,
    Handlers,
    UnsupportedFormatError,
    builtin_content_type,
    default_input_fn,
    default_output_fn,
    parse_libsvm,
    shifts_one_based_libsvm,
    toolkit_accept,
)


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (None, "text/libsvm"),  # no content type at all: LIBSVM, as data_utils reads it
        ("text/csv", "text/csv"),
        ("CSV", "text/csv"),
        ("text/csv; label_size=1", "text/csv"),
        ("text/x-libsvm", "text/libsvm"),
        ("libsvm", "text/libsvm"),
        ("application/json", "application/json"),
    ],
)
def test_builtin_content_types(sent, read) -> None:
    assert builtin_content_type(sent) == read


def test_a_csv_label_size_other_than_1_is_refused() -> None:
    with pytest.raises(ClientInputError, match="label_size must be equal to 1"):
        builtin_content_type("text/csv;label_size=2")


def test_libsvm_labels_are_ignored_and_indexes_kept_up_to_1_7() -> None:
    matrix = parse_libsvm("1 0:1.5 2:3\n0 1:2\n", one_based_shift=False).toarray()
    np.testing.assert_array_equal(matrix, [[1.5, 0, 3], [0, 2, 0]])


def test_3_x_shifts_one_based_libsvm_down() -> None:
    assert shifts_one_based_libsvm("3.0-5") and not shifts_one_based_libsvm("1.7-1")
    matrix = parse_libsvm("1:1.5 3:3", one_based_shift=True).toarray()
    np.testing.assert_array_equal(matrix, [[1.5, 0, 3]])


def test_the_toolkit_defaults(monkeypatch) -> None:
    monkeypatch.delenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", raising=False)
    assert toolkit_accept(None) == toolkit_accept("*/*") == "application/json"
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    assert toolkit_accept(None) == "text/csv"
    assert toolkit_accept("application/json") == "application/json"
    with pytest.raises(UnsupportedFormatError, match="Content type None is not supported"):
        default_input_fn(b"1,2", None)
    assert default_output_fn(np.array([0.25, 0.5]), "application/json") == "[0.25, 0.5]"
    assert default_output_fn(np.array([0.25, 0.5]), "text/csv") == "0.25\n0.5\n"


def test_a_script_s_input_fn_gets_what_the_toolkit_hands_it(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", raising=False)
    (tmp_path / "serve.py").write_text(
        "def model_fn(model_dir):\n    return None\n"
        "def input_fn(body, content_type):\n    return (type(body).__name__, content_type)\n"
        "def predict_fn(data, model):\n    return data\n"
        "def output_fn(prediction, accept):\n    return repr((prediction, accept))\n"
    )
    handlers = Handlers("serve.py", tmp_path)
    assert handlers.invoke(None, b"x", None, None) == (
        b"(('bytes', None), 'application/json')",
        "application/json",
    )
    body, _ = handlers.invoke(None, b"x", "text/csv", "text/csv")
    assert body == b"(('str', 'text/csv'), 'text/csv')"  # text for exactly JSON and CSV
    body, _ = handlers.invoke(None, b"x", "text/csv; charset=utf-8", "text/csv")
    assert body == b"(('bytes', 'text/csv; charset=utf-8'), 'text/csv')"
