"""The model server's reading of requests, as each container reads them (pure functions)."""

from __future__ import annotations

import io
import json
from typing import Any

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


# --- transform_fn, the images' default handlers and the XGBoost container's encoder ----------
@pytest.fixture()
def container_packages(monkeypatch) -> None:
    """The XGBoost image's own packages importable, as on its model servers' PYTHONPATH."""
    from emulator.sagemaker import images

    monkeypatch.syspath_prepend(str(images.CONTAINER_PACKAGES))


def tiny_booster() -> Any:
    import xgboost as xgb

    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [1.0, 0.2]] * 5)
    labels = np.array([0, 1, 0, 1] * 5)
    matrix = xgb.DMatrix(features, label=labels)
    return xgb.train({"objective": "binary:logistic"}, matrix, num_boost_round=3)


def test_transform_fn_gets_the_model_the_body_and_both_types(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", raising=False)
    (tmp_path / "serve.py").write_text(
        "def model_fn(model_dir):\n    return 'the model'\n"
        "def transform_fn(model, body, content_type, accept):\n"
        "    return repr((model, body, content_type, accept)), 'text/plain'\n"
    )
    handlers = Handlers("serve.py", tmp_path, image_repository="sagemaker-scikit-learn")
    assert handlers.invoke("the model", b"1,2", "text/csv", None) == (
        b"('the model', '1,2', 'text/csv', 'application/json')",
        "text/plain",  # the content type transform_fn answered with
    )


def test_transform_fn_with_input_fn_is_refused_when_the_server_starts(tmp_path) -> None:
    (tmp_path / "serve.py").write_text(
        "def model_fn(d):\n    return 1\n"
        "def transform_fn(m, b, c, a):\n    return b\n"
        "def input_fn(b, c):\n    return b\n"
    )
    with pytest.raises(ValueError, match="Cannot use transform_fn implementation with input_fn"):
        Handlers("serve.py", tmp_path)


def test_a_script_without_model_fn_fails_to_load_as_the_toolkits_default_does(tmp_path) -> None:
    (tmp_path / "serve.py").write_text("def predict_fn(data, model):\n    return data\n")
    handlers = Handlers("serve.py", tmp_path)
    with pytest.raises(NotImplementedError, match="Please provide a model_fn implementation"):
        handlers.model_fn(str(tmp_path))


def test_the_xgboost_images_defaults_decode_to_a_dmatrix_and_encode_the_accept(
    tmp_path, container_packages
) -> None:
    (tmp_path / "serve.py").write_text("def model_fn(model_dir):\n    raise AssertionError\n")
    handlers = Handlers("serve.py", tmp_path, image_repository="sagemaker-xgboost")
    booster = tiny_booster()
    body, kind = handlers.invoke(booster, b"0,1\n1,0", "text/csv", "application/json")
    assert kind == "application/json" and len(json.loads(body)) == 2
    body, kind = handlers.invoke(booster, b"0:0 1:1\n0:1", "text/libsvm", "text/csv")
    assert kind == "text/csv" and len(body.decode().splitlines()) == 2
    body, kind = handlers.invoke(booster, b"0,1", "text/csv", "application/x-npy")
    assert np.load(io.BytesIO(body)).shape == (1,)
    # JSON is not one of the container's DMatrix decoders (415); nor is XML an encoder (406).
    with pytest.raises(UnsupportedFormatError) as refused:
        handlers.invoke(booster, b"[[0, 1]]", "application/json", "application/json")
    assert refused.value.status_code == 415
    with pytest.raises(UnsupportedFormatError) as refused:
        handlers.invoke(booster, b"0,1", "text/csv", "application/xml")
    assert refused.value.status_code == 406


def test_the_scikit_learn_images_defaults_read_and_write_npy(tmp_path) -> None:
    (tmp_path / "serve.py").write_text("def model_fn(model_dir):\n    raise AssertionError\n")
    handlers = Handlers("serve.py", tmp_path, image_repository="sagemaker-scikit-learn")

    class Doubler:
        def predict(self, data):
            return np.asarray(data) * 2

    sent = io.BytesIO()
    np.save(sent, np.array([[1.0, 2.0]]))
    body, kind = handlers.invoke(Doubler(), sent.getvalue(), "application/x-npy", "text/csv")
    assert (body, kind) == (b"2.0,4.0\n", "text/csv")


def test_the_xgboost_container_encoder_stand_in(container_packages) -> None:
    from sagemaker_xgboost_container import encoder

    tabbed = encoder.csv_to_dmatrix("1\t2\n3\t")  # delimiter sniffed; an empty field is NaN
    assert (tabbed.num_row(), tabbed.num_col()) == (2, 2)
    sparse = encoder.libsvm_to_dmatrix(b"1 0:1.5 2:3\n0 1:2")
    assert (sparse.num_row(), sparse.num_col()) == (2, 3)
    assert encoder.decode(b"1,2", "text/csv; charset=utf-8").num_col() == 2
    assert encoder.json_to_jsonlines({"predictions": [{"score": 1}, {"score": 0}]}) == (
        b'{"score": 1}\n{"score": 0}\n'
    )
    with pytest.raises(encoder.UnsupportedFormatError):
        encoder.decode(b"{}", "application/json")
