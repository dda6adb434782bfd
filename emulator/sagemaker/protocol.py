"""SageMaker's wire protocol (JSON 1.1) checked against botocore's own service model.

Validating every request with botocore's model is what makes "it worked offline" mean "the
request is well-formed for AWS": an unknown field, a wrong type or a missing required member is
refused here with the ValidationException AWS would send.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import string
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from emulator.sagemaker.errors import SageMakerError, UnknownOperation, ValidationError

TARGET_PREFIX = "SageMaker."

log = logging.getLogger("emulator.protocol")


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_model(action: str) -> OperationModel:
    try:
        return service_model().operation_model(action)
    except Exception as exc:  # botocore raises OperationNotFoundError
        raise UnknownOperation(f"Operation {action} is not supported by SageMaker.") from exc


def _decode(value: Any, shape: Shape) -> Any:
    """Turn JSON wire values into the Python types botocore's validator expects."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            key: _decode(item, shape.members[key]) if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _decode(item, shape.value) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def parse_request(action: str, body: bytes) -> dict[str, Any]:
    """Decode and validate one request body; raises ValidationError as AWS would."""
    model = operation_model(action)
    try:
        raw = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValidationError(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValidationError("Request body must be a JSON object.")
    if model.input_shape is None:
        return raw
    params = _decode(raw, model.input_shape)
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ValidationError(report.generate_report())
    errors = constraint_errors(params, model.input_shape)
    if errors:
        raise ValidationError(validation_message(errors))
    return params


# --- constraints botocore's ParamValidator leaves to the service ------------------------------
# ParamValidator checks types, required members and ``min``; AWS also enforces ``max`` (a
# string's length, a list's or map's item count), ``pattern`` and a string's ``enum``. Names
# become directory names here, so these checks are what keeps ``../x`` out of the file system.

_JAVA_POSIX = {
    # Java's POSIX classes are ASCII-only unless UNICODE_CHARACTER_CLASS is set.
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Graph": "a-zA-Z0-9" + re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Print": r"\x20a-zA-Z0-9" + re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\f\r",
}
# Escapes that mean the same in Java and in Python's re (with re.ASCII, as Java's \d \w \s are).
_SAME_ESCAPES = frozenset("dDwWsStnrfaA")
_ANCHOR_QUANTIFIER = re.compile(r"\{(\d+)(,\d*)?\}")


class Untranslatable(ValueError):
    """A Java regex construct with no faithful Python ``re`` equivalent."""


@cache
def _unicode_categories() -> dict[str, tuple[tuple[int, int], ...]]:
    """Code point ranges of every two-letter Unicode general category (one scan, ~0.3 s)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\0")
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != current:
            spans.setdefault(current, []).append((start, code - 1))
            start, current = code, category
    spans.setdefault(current, []).append((start, sys.maxunicode))
    return {name: tuple(ranges) for name, ranges in spans.items()}


def _span_body(spans: list[tuple[int, int]]) -> str:
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in spans
    )


@cache
def _property_body(name: str, negated: bool) -> str:
    """The inside of a character class for Java's ``\\p{name}`` (``\\P{name}`` if negated)."""
    if name in _JAVA_POSIX and not negated:
        return _JAVA_POSIX[name]
    category = name.removeprefix("Is")
    categories = _unicode_categories()
    wanted = {"LC": ("Lu", "Ll", "Lt")}.get(category) or tuple(
        key for key in categories if key == category or (len(category) == 1 and key[0] == category)
    )
    if not wanted:
        raise Untranslatable(f"\\p{{{name}}}")
    spans = sorted(span for key in wanted for span in categories[key])
    if negated:
        spans = [
            (low, high)
            for low, high in zip(
                [0] + [high + 1 for _, high in spans],
                [low - 1 for low, _ in spans] + [sys.maxunicode],
                strict=True,
            )
            if low <= high
        ]
    return _span_body(spans)


def java_regex_to_python(pattern: str) -> str:
    """Rewrite a Java regex (the service model's dialect) for Python's ``re``.

    Translates ``\\p{..}``/``\\P{..}`` (Unicode categories, POSIX classes), ``\\uXXXX`` with
    UTF-16 surrogate pairs, ``\\x{..}``, ``\\Q..\\E``, ``\\z``, ``(?<name>`` and a quantifier on
    an anchor (``${1,128}``); raises Untranslatable for what has no faithful equivalent (nested
    or intersected classes, Java-only escapes).
    """
    out: list[str] = []
    in_class = False
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= size:
                raise Untranslatable("trailing backslash")
            escape = pattern[i + 1]
            if escape in "pP":
                if pattern.startswith("{", i + 2):
                    end = pattern.find("}", i + 2)
                    if end < 0:
                        raise Untranslatable("unclosed \\p{")
                    name, i = pattern[i + 3 : end], end + 1
                else:
                    name, i = pattern[i + 2 : i + 3], i + 3
                body = _property_body(name, escape == "P")
                out.append(body if in_class else f"[{body}]")
                continue
            if escape == "u":
                code, i = _hex(pattern, i + 2, 4), i + 6
                low = _hex(pattern, i + 2, 4) if pattern.startswith("\\u", i) else None
                if 0xD800 <= code <= 0xDBFF and low is not None and 0xDC00 <= low <= 0xDFFF:
                    # Java reads regexes as UTF-16: a surrogate pair is one code point.
                    code, i = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), i + 6
                out.append(f"\\U{code:08x}")
                continue
            if escape == "x" and pattern.startswith("{", i + 2):
                end = pattern.find("}", i + 2)
                if end < 0:
                    raise Untranslatable("unclosed \\x{")
                out.append(f"\\U{_hex(pattern, i + 3, end - i - 3):08x}")
                i = end + 1
                continue
            if escape == "Q":
                end = pattern.find("\\E", i + 2)
                end = size if end < 0 else end
                literal = pattern[i + 2 : end]
                out.append("".join("\\" + c if not c.isalnum() else c for c in literal))
                i = end + 2
                continue
            if escape == "z":
                out.append("\\Z")
            elif escape == "x":
                out.append(f"\\x{_hex(pattern, i + 2, 2):02x}")
                i += 2
            elif escape in "bB" and not in_class:
                out.append("\\" + escape)  # word boundaries; a backspace in a Python class
            elif escape.isdigit() and escape != "0" and not in_class:
                out.append("\\" + escape)  # a back-reference in both
            elif escape.isalnum() and escape not in _SAME_ESCAPES:
                raise Untranslatable(f"\\{escape}")
            else:
                out.append("\\" + escape)
            i += 2
            continue
        if in_class:
            if char == "[" or pattern.startswith("&&", i) or pattern.startswith("--", i):
                raise Untranslatable("nested, intersected or subtracted character class")
            if char == "]":
                in_class = False
            # Literal in both; escaped so Python does not warn of future set operations.
            out.append("\\" + char if char in "&|~" else char)
            i += 1
            continue
        if char == "[":
            in_class = True
            opening = "[^" if pattern.startswith("^", i + 1) else "["
            i += len(opening)
            if pattern.startswith("]", i):
                raise Untranslatable("']' first in a class")
            out.append(opening)
            continue
        if char in "^$" and (quantifier := _ANCHOR_QUANTIFIER.match(pattern, i + 1)):
            # Java accepts a repeated anchor (``${1,128}``); once is the same, zero is nothing.
            if int(quantifier[1]) > 0:
                out.append(char)
            i = quantifier.end()
            continue
        if pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        out.append(char)
        i += 1
    if in_class:
        raise Untranslatable("unclosed character class")
    return "".join(out)


def _hex(pattern: str, start: int, length: int) -> int:
    digits = pattern[start : start + length]
    if not digits or len(digits) != length or any(c not in string.hexdigits for c in digits):
        raise Untranslatable(f"bad hex escape at {start}")
    return int(digits, 16)


@cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's Java ``pattern`` as a Python regex, or None when it cannot be translated.

    None means the pattern is not checked: a request AWS accepts must never be refused because
    of our regex dialect. re.ASCII because Java's ``\\d``, ``\\w`` and ``\\s`` are ASCII-only.
    """
    try:
        return re.compile(java_regex_to_python(pattern), re.ASCII)
    except (Untranslatable, re.error):
        log.debug("pattern %r is not checked: no Python equivalent", pattern)
        return None


@dataclass(frozen=True, slots=True)
class _Rule:
    """One shape's constraints, computed once per shape name."""

    max: int | None
    min: int | None
    regex: re.Pattern[str] | None
    pattern: str | None  # as AWS quotes it in messages
    enum: frozenset[str]
    enum_text: str
    sensitive: bool

    def failures(self, value: Any) -> list[str]:
        """The constraints a string (or a list's/map's item count) fails, AWS's wording."""
        if self.max is not None and len(value) > self.max:
            # AWS reports the length alone: a 64-character name is "length <= 63", not also
            # the pattern (whose {0,62} it fails too). It also bounds the regex's input.
            return [f"Member must have length less than or equal to {self.max}"]
        failed = []
        if self.regex is not None and isinstance(value, str) and not self.regex.fullmatch(value):
            failed.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        if self.enum and isinstance(value, str) and value not in self.enum:
            failed.append(f"Member must satisfy enum value set: {self.enum_text}")
        return failed

    def described(self) -> str:
        """Every constraint, bracketed, as AWS lists them for a list's members or map keys."""
        parts = []
        if self.max is not None:
            parts.append(f"Member must have length less than or equal to {self.max}")
        if self.min is not None:
            parts.append(f"Member must have length greater than or equal to {self.min}")
        if self.pattern is not None:
            parts.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        if self.enum:
            parts.append(f"Member must satisfy enum value set: {self.enum_text}")
        return "[" + ", ".join(parts) + "]"


_RULES: dict[str, _Rule] = {}


def _rule(shape: Shape) -> _Rule:
    rule = _RULES.get(shape.name)
    if rule is None:
        metadata = shape.metadata
        pattern = metadata.get("pattern")
        enum = list(getattr(shape, "enum", None) or [])
        rule = _RULES[shape.name] = _Rule(
            max=metadata.get("max"),
            min=metadata.get("min"),
            regex=compile_pattern(pattern) if pattern is not None else None,
            # botocore's copy drops the ^ the service's own model (and its messages) carry.
            pattern=None if pattern is None else "^" + pattern.removeprefix("^"),
            enum=frozenset(enum),
            enum_text="[" + ", ".join(enum) + "]",
            sensitive=bool(metadata.get("sensitive")),
        )
    return rule


@cache
def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def _show(value: Any) -> str:
    """A value as AWS quotes it (Java's toString), with non-printables escaped."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(item) for item in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{_show(k)}={_show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    if text.isprintable():
        return text
    # A NUL or a newline echoed raw would corrupt logs and terminals.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _error(value: Any, path: str, rule: _Rule, constraint: str) -> str:
    shown = "Value" if rule.sensitive else f"Value '{_show(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def _scalar_items_fail(items: Any, shape: Shape) -> bool:
    rule = _rule(shape)
    return any(rule.failures(item) for item in items if isinstance(item, str))


def _check(value: Any, shape: Shape, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if isinstance(value, dict):
            for name, member in shape.members.items():
                item = value.get(name)
                if item is not None:
                    child = _camel(name)
                    _check(item, member, f"{path}.{child}" if path else child, errors)
    elif kind == "string":
        if isinstance(value, str):
            rule = _rule(shape)
            errors.extend(_error(value, path, rule, f) for f in rule.failures(value))
    elif kind == "list":
        if not isinstance(value, list):
            return
        rule = _rule(shape)
        errors.extend(_error(value, path, rule, f) for f in rule.failures(value))
        member = shape.member
        if member.type_name == "string":
            # AWS reports a list of strings once, at the list, listing the members' rules.
            if _scalar_items_fail(value, member):
                described = "Member must satisfy constraint: " + _rule(member).described()
                errors.append(_error(value, path, _rule(member), described))
        else:
            for index, item in enumerate(value, start=1):
                if item is not None:
                    _check(item, member, f"{path}.{index}.member", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            return
        rule = _rule(shape)
        errors.extend(_error(value, path, rule, f) for f in rule.failures(value))
        if _scalar_items_fail(value.keys(), shape.key):
            described = "Map keys must satisfy constraint: " + _rule(shape.key).described()
            errors.append(_error(value, path, _rule(shape.key), described))
        if shape.value.type_name == "string":
            if _scalar_items_fail(value.values(), shape.value):
                described = "Map value must satisfy constraint: " + _rule(shape.value).described()
                errors.append(_error(value, path, _rule(shape.value), described))
        else:
            for key, item in value.items():
                if item is not None:
                    _check(item, shape.value, f"{path}.{key}", errors)


def constraint_errors(params: dict[str, Any], shape: Shape) -> list[str]:
    """What AWS would refuse in ``params`` beyond botocore's checks, one message each."""
    errors: list[str] = []
    _check(params, shape, "", errors)
    return errors


def validation_message(errors: list[str]) -> str:
    """``N validation error(s) detected: a; b``, as AWS words a ValidationException."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def encode_response(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, default=_encode).encode()


def encode_error(error: SageMakerError) -> bytes:
    return json.dumps({"__type": error.code, "message": error.message}).encode()
