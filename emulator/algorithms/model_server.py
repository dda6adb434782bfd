"""The serving side of a SageMaker model container, run as one worker process per instance.

Two contracts, chosen by the model's environment as the XGBoost container chooses them:

- built-in XGBoost (no ``SAGEMAKER_PROGRAM``): loads the booster file from the model directory
  as every container version does (``pickle.load``, then ``Booster.load_model``) and scores
  ``text/csv`` rows of features (no label), ``text/libsvm`` or ``application/json``
  (``{"instances": [{"features": [...]}, ...]}`` or a list of feature lists); answers one
  probability per line for ``text/csv`` and ``{"predictions": [{"score": p}, ...]}`` for JSON.
  A request without a content type is LIBSVM, without an Accept (or ``*/*``)
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` else ``text/csv``, as the container's serve.py reads
  them, at endpoints and in batch transform alike; in batch transform (``SAGEMAKER_BATCH``) the
  answer is one prediction per line whatever the Accept, as serve.py writes it;
- script mode (``--program``): imports the inference script and calls the SageMaker inference
  toolkit's ``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` (defaults for any the
  script leaves out). As the toolkit's Transformer does, ``input_fn`` gets the content type as
  sent (None when absent) and the body as text only for ``application/json`` and ``text/csv``;
  a missing Accept (or ``*/*``) is ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else
  ``application/json``. An exception with an integer ``status_code`` in 400..499 is answered
  with that status and its message; anything else is a 500 (the default handlers' "Content type
  None is not supported by this framework" included, as the toolkit answers it).

The worker's environment holds the model container's ``Environment`` (and a transform job's),
as the container's would. A ``requirements.txt`` beside the inference script is pip-installed
(from the code directory) before the script is imported, as both containers' model servers do
(sagemaker-containers' ``import_module``: ``pip install . -r requirements.txt``; the code
directory itself is on sys.path instead, as in training): into the worker's own overlay
(``--overlay``, training_toolkit.make_overlay) over the image's environment, which stays as it
is. A failed install fails the model's load with the toolkit's ``InstallModuleError``.

The worker talks to the emulator over two inherited pipes, never stdout (user code may print):
a request is a JSON header line ``{"content_type", "accept", "length"}`` followed by ``length``
bytes; the answer is ``{"status", "content_type", "length"}`` and the body. The first answer,
sent before any request, says whether the model loaded (status 200) or why not.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import io
import json
import os
import pickle
import site
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class ClientInputError(ValueError):
    """A request the model cannot score: answered as a 4xx, like the container does."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


# --- built-in XGBoost -----------------------------------------------------------------------
def load_booster(path: Path) -> Any:
    """One model file as every sagemaker-xgboost version's serve_utils.get_loaded_booster loads
    it (1.0-1 to 3.0-5 alike): ``pickle.load`` first (the Booster containers up to 1.2-2
    pickled), then ``Booster.load_model`` (the native file of 1.3-1 on). Like the container, this
    unpickles what the model archive holds: only serve archives you trust."""
    import xgboost as xgb

    try:
        with path.open("rb") as handle:
            loaded = pickle.load(handle)
    except Exception as pickle_error:
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as native_error:
            raise RuntimeError(
                f"{path.name}: neither a pickled Booster ({type(pickle_error).__name__}: "
                f"{str(pickle_error)[:80]}) nor a native XGBoost model "
                f"({str(native_error).splitlines()[0] if str(native_error) else 'refused'})"
            ) from None
        return booster
    if not isinstance(loaded, xgb.Booster):
        raise RuntimeError(
            f"{path.name}: the pickle holds a {type(loaded).__name__}, not a Booster"
        )
    return loaded


def builtin_model_fn(model_dir: str) -> Any:
    # 1.2-1 on skip dotfiles in the model directory (1.0-1 does not; a dotfile is the archive's
    # leftover, not a model, so it is skipped here for every version).
    candidates = sorted(
        p for p in Path(model_dir).iterdir() if p.is_file() and not p.name.startswith(".")
    )
    if not candidates:
        raise RuntimeError(f"model archive is empty: no booster file in {model_dir}")
    errors = []
    for path in candidates:  # the container loads the first file; this, the first that loads
        try:
            booster = load_booster(path)
        except RuntimeError as exc:
            errors.append(str(exc))
            continue
        print(f"[model server] loaded {path.name} ({loaded_format(path)})", flush=True)
        return booster
    raise RuntimeError("no loadable XGBoost booster in the model archive: " + "; ".join(errors))


def loaded_format(path: Path) -> str:
    with path.open("rb") as handle:
        return "pickled Booster" if handle.read(1) == b"\x80" else "native XGBoost model"


def parse_csv(text: str) -> np.ndarray:
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise ClientInputError("text/csv body has no rows")
    try:
        return np.array([[float(v) if v.strip() else np.nan for v in r.split(",")] for r in rows])
    except ValueError as exc:
        raise ClientInputError(f"text/csv body is not numeric: {exc}") from exc


def parse_json_features(text: str) -> np.ndarray:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise ClientInputError(f"application/json body is not valid JSON: {exc}") from exc
    if isinstance(payload, dict):
        payload = payload.get("instances", payload.get("features"))
    # A tuple, not list | dict: this runs on the images' Pythons, 3.7 included.
    if isinstance(payload, list) and payload and not isinstance(payload[0], (list, dict)):
        payload = [payload]  # one flat row of features
    if not isinstance(payload, list) or not payload:
        raise ClientInputError(
            'application/json body must be {"instances": [{"features": [...]}, ...]} '
            "or a list of feature lists"
        )
    rows = [r.get("features") if isinstance(r, dict) else r for r in payload]
    try:
        matrix = np.array(rows, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ClientInputError(f"application/json features are not numeric rows: {exc}") from exc
    if matrix.ndim != 2:
        raise ClientInputError("application/json rows must all have the same number of features")
    return matrix


def builtin_content_type(content_type: str | None) -> str:
    """The request's content type as every sagemaker-xgboost version's serving reads it
    (``data_utils.get_content_type``): none at all means LIBSVM; ``csv`` / ``text/csv`` (a
    ``label_size`` parameter must be 1) and ``libsvm`` / ``text/libsvm`` / ``text/x-libsvm``
    are accepted spellings."""
    if content_type is None:
        return "text/libsvm"
    kind, _, parameters = content_type.lower().partition(";")
    kind = kind.strip()
    if kind in {"csv", "text/csv"}:
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip() == "label_size" and value.strip() != "1":
                raise ClientInputError(
                    f"{content_type} is not an accepted csv ContentType. Optional parameter "
                    "label_size must be equal to 1",
                    415,
                )
        return "text/csv"
    if kind in {"libsvm", "text/libsvm", "text/x-libsvm"}:
        return "text/libsvm"
    return kind


def parse_libsvm(text: str, one_based_shift: bool) -> Any:
    """LIBSVM rows as the container parses a request: every ``index:value`` token is a feature,
    anything else on the line (a label) is ignored; indexes are columns as written, and 3.0-5
    on shift them down by one when none is 0 (1-based files)."""
    from scipy.sparse import csr_matrix

    rows, columns, values = [], [], []
    lines = text.strip().split("\n")
    for row, line in enumerate(lines):
        for token in line.split(" "):
            if ":" in token:
                index, _, value = token.partition(":")
                rows.append(row)
                columns.append(int(index))
                values.append(float(value))
    if not values:
        raise ClientInputError("text/libsvm body has no index:value features", 415)
    column_array = np.array(columns, dtype=int)
    if one_based_shift and column_array.min() >= 1:
        column_array = column_array - 1
    if column_array.min() < 0:
        raise ClientInputError("text/libsvm body has a negative feature index", 415)
    shape = (len(lines), int(column_array.max()) + 1)
    return csr_matrix((np.array(values), (np.array(rows), column_array)), shape=shape)


def shifts_one_based_libsvm(image_tag: str) -> bool:
    """Only the 3.x containers' serving shifts 1-based LIBSVM indexes (1.0-1 to 1.7-1 do not)."""
    try:
        return int(image_tag.split(".", 1)[0]) >= 3
    except ValueError:
        return False


def builtin_input_fn(body: bytes, content_type: str | None, image_tag: str = "") -> Any:
    import xgboost as xgb

    kind = builtin_content_type(content_type)
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ClientInputError(f"{kind} body is not UTF-8 text: {exc}", 415) from exc
    if kind == "text/csv":
        return xgb.DMatrix(parse_csv(text))
    if kind == "application/json":
        return xgb.DMatrix(parse_json_features(text))
    if kind == "text/libsvm":
        try:
            features = parse_libsvm(text, shifts_one_based_libsvm(image_tag))
        except ValueError as exc:
            raise ClientInputError(
                "Loading libsvm data failed, please ensure data is in libsvm format: "
                f"{exc}" + ("" if content_type else " (no ContentType was sent: LIBSVM assumed)"),
                415,
            ) from exc
        return xgb.DMatrix(features)
    raise ClientInputError(
        f"Content type {content_type!r} is not supported; use text/csv, text/libsvm or "
        "application/json",
        415,
    )


def builtin_predict_fn(data: Any, model: Any) -> np.ndarray:
    # Booster.num_features() is xgboost >= 1.4 (images 1.0-1 to 1.3-1 have older ones).
    expected = model.num_features() if hasattr(model, "num_features") else None
    if expected is not None and data.num_col() > expected:
        raise ClientInputError(
            f"Feature size of the request ({data.num_col()}) does not match the model "
            f"({expected}); send features only, without the label column"
        )
    # As the containers predict: with the best iteration early stopping left on a pickled
    # Booster (best_ntree_limit, a Python attribute); ntree_limit before xgboost 2, else
    # iteration_range, as 3.0-5 does.
    best = int(getattr(model, "best_ntree_limit", 0) or 0)
    if "ntree_limit" in inspect.signature(model.predict).parameters:
        return model.predict(data, ntree_limit=best, validate_features=False)
    if best > 0:
        return model.predict(data, iteration_range=(0, best), validate_features=False)
    return model.predict(data, validate_features=False)


BUILTIN_ACCEPTS = ("text/csv", "application/json", "application/jsonlines")


def builtin_output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    # No Accept, or */*: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else text/csv (serve.py).
    kind = media_type(accept)
    if kind in {"", "*/*"}:
        kind = media_type(os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT")) or "text/csv"
    rows = prediction.tolist()
    if kind not in BUILTIN_ACCEPTS:
        raise ClientInputError(f"Accept type {accept!r} is not supported", 406)
    if os.environ.get("SAGEMAKER_BATCH"):
        # In batch transform serve.py writes one str(prediction) per line, whatever the Accept.
        return ("\n".join(map(str, rows)) + "\n").encode(), kind
    if kind == "text/csv":
        lines = [",".join(map(repr, r)) if isinstance(r, list) else repr(r) for r in rows]
        return ("\n".join(lines) + "\n").encode(), "text/csv"
    if kind == "application/json":
        return json.dumps({"predictions": [{"score": r} for r in rows]}).encode(), kind
    return "".join(json.dumps({"score": r}) + "\n" for r in rows).encode(), kind  # jsonlines


# --- script mode (SageMaker inference toolkit handlers) --------------------------------------
# The toolkit hands input_fn a str for exactly these content types, bytes for any other.
TOOLKIT_UTF8_TYPES = ("application/json", "text/csv")


class UnsupportedFormatError(Exception):
    """The toolkit's answer to a content or accept type its default handlers cannot read or
    write; not one of its own status-carrying errors, so the model server answers 500."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(
            f"Content type {content_type} is not supported by this framework. Please implement "
            "input_fn to deserialize the request data or an output_fn to serialize the response."
        )


NPY = "application/x-npy"


def default_input_fn(body: bytes | str, content_type: str | None) -> Any:
    """The toolkit's decoder: JSON, CSV and NPY into arrays; no content type is none of them."""
    kind = media_type(content_type) if content_type is not None else None
    if kind == NPY:
        return np.load(io.BytesIO(body if isinstance(body, bytes) else body.encode()))
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if kind == "text/csv":
        return parse_csv(text)
    if kind == "application/json":
        return np.array(json.loads(text))
    raise UnsupportedFormatError(content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    import xgboost as xgb

    if isinstance(model, xgb.Booster):
        matrix = data if isinstance(data, xgb.DMatrix) else xgb.DMatrix(data)
        return model.predict(matrix, validate_features=False)
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> Any:
    """The toolkit's encoder: a JSON list, CSV rows or an NPY array."""
    kind = media_type(accept)
    array = np.asarray(prediction)
    if kind == "application/json":
        return json.dumps(array.tolist())
    if kind == "text/csv":
        rows = array.tolist() if array.ndim else [array.item()]
        return "".join(
            (",".join(map(str, r)) if isinstance(r, list) else str(r)) + "\n" for r in rows
        )
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue()
    raise UnsupportedFormatError(accept)


# --- the XGBoost container's script-mode defaults (sagemaker-containers' Transformer) ---------
class UnsupportedMediaType(UnsupportedFormatError):
    """The XGBoost container's answer to a body its default input_fn cannot decode: 415."""

    status_code = 415


class NotAcceptable(UnsupportedFormatError):
    """... and to an Accept its default output_fn cannot encode: 406."""

    status_code = 406


def xgboost_input_fn(body: bytes | str, content_type: str | None) -> Any:
    """The XGBoost container's default: its encoder.decode, CSV or LIBSVM into a DMatrix."""
    from sagemaker_xgboost_container import encoder  # the emulator's stand-in, on PYTHONPATH

    try:
        return encoder.decode(body, content_type or "")
    except encoder.UnsupportedFormatError as exc:
        raise UnsupportedMediaType(content_type) from exc


def xgboost_output_fn(prediction: Any, accept: str) -> Any:
    try:
        return default_output_fn(prediction, accept)
    except UnsupportedFormatError as exc:
        raise NotAcceptable(accept) from exc


def missing_model_fn(model_dir: str) -> Any:
    # Both toolkits' default model_fn: a framework container cannot guess how to load a model.
    raise NotImplementedError(
        "Please provide a model_fn implementation. See documentation for model_fn at "
        "https://github.com/aws/sagemaker-python-sdk"
    )


def toolkit_accept(accept: str | None) -> str:
    """No Accept, or */*: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else application/json, as the
    inference toolkit's environment defaults it."""
    if not accept or accept == "*/*":
        return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "application/json"
    return accept


def load_script(code_dir: Path, program: str) -> Any:
    path = code_dir / program
    if not path.is_file():
        raise RuntimeError(f"SAGEMAKER_PROGRAM {program!r} is not in the code directory")
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handlers:
    """The inference handlers: the script's own, the image's defaults for the rest."""

    def __init__(
        self,
        program: str | None,
        code_dir: Path | None,
        image_tag: str = "",
        image_repository: str = "sagemaker-xgboost",
    ) -> None:
        self.builtin = program is None
        self.transform_fn: Callable | None = None
        if program is None:
            self.model_fn: Callable = builtin_model_fn
            self.input_fn: Callable = lambda body, kind: builtin_input_fn(body, kind, image_tag)
            self.predict_fn: Callable = builtin_predict_fn
            self.output_fn: Callable = builtin_output_fn
            return
        assert code_dir is not None
        script = load_script(code_dir, program)
        self.model_fn = getattr(script, "model_fn", missing_model_fn)
        self.transform_fn = getattr(script, "transform_fn", None)
        overridden = [n for n in ("input_fn", "predict_fn", "output_fn") if hasattr(script, n)]
        if self.transform_fn is not None and overridden:
            # Both toolkits refuse the mix when the model server starts.
            raise ValueError(
                "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
            )
        xgboost = image_repository == "sagemaker-xgboost"
        self.input_fn = getattr(
            script, "input_fn", xgboost_input_fn if xgboost else default_input_fn
        )
        self.predict_fn = getattr(script, "predict_fn", default_predict_fn)
        self.output_fn = getattr(
            script, "output_fn", xgboost_output_fn if xgboost else default_output_fn
        )

    def invoke(
        self, model: Any, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[bytes, str]:
        """``content_type`` and ``accept`` are None when the request sent none."""
        if self.builtin:
            data = self.input_fn(body, content_type)
            return self.output_fn(self.predict_fn(data, model), accept)
        # As the toolkit's Transformer: the content type as sent (None when absent), the body
        # as text for exactly JSON and CSV, the accept type defaulted.
        accept = toolkit_accept(accept)
        payload: bytes | str = body.decode("utf-8") if content_type in TOOLKIT_UTF8_TYPES else body
        if self.transform_fn is not None:
            output = self.transform_fn(model, payload, content_type, accept)
        else:
            prediction = self.predict_fn(self.input_fn(payload, content_type), model)
            output = self.output_fn(prediction, accept)
        return response_of(output, accept)


def response_of(output: Any, accept: str) -> tuple[bytes, str]:
    """A handler's answer as body and content type: ``(body, content type)``, a Flask-style
    response (the XGBoost container's ``worker.Response``), text or bytes."""
    if isinstance(output, tuple):
        output, accept = output
    elif hasattr(output, "get_data"):
        accept = getattr(output, "mimetype", None) or accept
        output = output.get_data()
    if isinstance(output, str):
        output = output.encode()
    return bytes(output), accept


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


# --- the pipe protocol ----------------------------------------------------------------------
def send(channel: BinaryIO, status: int, body: bytes, content_type: str = "text/plain") -> None:
    header = {"status": status, "content_type": content_type, "length": len(body)}
    channel.write(json.dumps(header).encode() + b"\n" + body)
    channel.flush()


def serve(handlers: Handlers, model: Any, requests: BinaryIO, responses: BinaryIO) -> None:
    while True:
        line = requests.readline()
        if not line:
            return  # the emulator closed the pipe: shut down
        header = json.loads(line)
        body = requests.read(header["length"])
        try:
            # An empty header is one the request did not send.
            output, content_type = handlers.invoke(
                model, body, header.get("content_type") or None, header.get("accept") or None
            )
            send(responses, 200, output, content_type)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                send(responses, status, str(exc).encode())
            else:
                traceback.print_exc()
                send(responses, 500, f"{type(exc).__name__}: {exc}".encode())


class InstallModuleError(Exception):
    """sagemaker-containers' error for a failed install of the inference code's requirements."""


def install_requirements(code_dir: Path, overlay: Path) -> None:
    """pip-install ``code_dir``'s requirements.txt into ``overlay`` and put what it installed
    first on sys.path; nothing to do without one."""
    if not (code_dir / "requirements.txt").is_file():
        return
    # Here, not at the top: the built-in algorithm's workers never need it.
    from emulator.algorithms.training_toolkit import make_overlay

    python = make_overlay(str(overlay))
    command = [python, "-m", "pip", "install", "-r", "requirements.txt"]
    print("Installing module with the following command:\n" + " ".join(command), flush=True)
    # Its output goes to the worker's log (stdout), never to the response pipe.
    code = subprocess.call(command, cwd=str(code_dir), stdout=sys.stdout, stderr=sys.stderr)
    if code != 0:
        raise InstallModuleError('ExitCode {}\nCommand "{}"'.format(code, " ".join(command)))
    major, minor = sys.version_info[:2]
    before = list(sys.path)
    site.addsitedir(str(overlay / "lib" / f"python{major}.{minor}" / "site-packages"))
    added = [path for path in sys.path if path not in before]
    sys.path[:] = added + before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--program", default=None)
    parser.add_argument("--code-dir", type=Path, default=None)
    parser.add_argument("--image-tag", default="", help="the container version it plays")
    parser.add_argument("--image-repository", default="sagemaker-xgboost")
    parser.add_argument("--overlay", type=Path, default=None, help="the worker's own packages")
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    args = parser.parse_args(argv)
    requests = os.fdopen(args.request_fd, "rb")
    responses = os.fdopen(args.response_fd, "wb")
    try:
        if args.program and args.code_dir is not None and args.overlay is not None:
            install_requirements(args.code_dir, args.overlay)
        handlers = Handlers(args.program, args.code_dir, args.image_tag, args.image_repository)
        model = handlers.model_fn(str(args.model_dir))
    except Exception as exc:
        traceback.print_exc()
        send(responses, 500, f"{type(exc).__name__}: {exc}".encode())
        return 1
    print(f"[model server] model loaded from {args.model_dir}", flush=True)
    send(responses, 200, b"ready")
    serve(handlers, model, requests, responses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
