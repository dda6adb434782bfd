"""A training job's metrics, read from its log as SageMaker reads them.

- The built-in XGBoost algorithm prints one line per round, ``[3]<TAB>train-logloss:0.41<TAB>
  validation-logloss:0.42``; SageMaker's own metric definitions for the algorithm name them
  ``train:logloss`` and ``validation:logloss``.
- ``AlgorithmSpecification.MetricDefinitions`` (script mode, or any image): each definition's
  regex is searched in every log line and its first group is the value. SageMaker matches the
  log as CloudWatch holds it, where the container's tabs are written ``#011`` (that is why the
  published regexes for XGBoost read ``#011validation-logloss``), so the lines are matched with
  tabs written that way too.

Each metric's values form a series in log order; the n-th value is the metric at "round" n (for
the built-in algorithm the round printed in brackets). FinalMetricDataList holds each metric's
last value, the one a tuning job's objective is read from. Tuning jobs read the series of
running jobs for early stopping (tuning_jobs.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emulator.sagemaker import images

ROUND_LINE = re.compile(r"^\[(\d+)\]\t(.*)$")
# How CloudWatch (the containers' rsyslog) writes a tab, and what the published regexes expect.
TAB_AS_LOGGED = "#011"
# A regex that cannot compile, or a metric line flood, must not stall the job's end.
MAX_METRIC_LINE_CHARS = 10_000


def compiled_definitions(definitions: Iterable[dict[str, str]]) -> list[tuple[str, re.Pattern]]:
    """(name, regex) pairs; a definition whose regex does not compile is skipped."""
    compiled = []
    for definition in definitions:
        with contextlib.suppress(re.error):
            compiled.append((definition["Name"], re.compile(definition["Regex"])))
    return compiled


def metric_series(
    lines: Iterable[str], definitions: Iterable[dict[str, str]] = ()
) -> dict[str, list[tuple[int, float]]]:
    """Every metric's (round, value) pairs in log order: the built-in round lines, then the
    MetricDefinitions (whose round is the count of values seen so far)."""
    patterns = compiled_definitions(definitions)
    series: dict[str, list[tuple[int, float]]] = {}
    for raw in lines:
        line = raw.rstrip("\n")[:MAX_METRIC_LINE_CHARS]
        matched = ROUND_LINE.match(line)
        if matched:
            round_number = int(matched[1])
            for part in matched[2].split("\t"):
                key, _, text = part.partition(":")
                data, _, metric = key.partition("-")
                value = number(text)
                if metric and value is not None:
                    series.setdefault(f"{data}:{metric}", []).append((round_number, value))
        if patterns:
            as_logged = line.replace("\t", TAB_AS_LOGGED)
            for name, pattern in patterns:
                found = pattern.search(as_logged)
                if found is None:
                    continue
                value = number(found.group(1) if found.groups() else found.group(0))
                if value is not None:
                    values = series.setdefault(name, [])
                    values.append((len(values), value))
    return series


def number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def read_series(
    log_file: Path, definitions: Iterable[dict[str, str]] = ()
) -> dict[str, list[tuple[int, float]]]:
    """``metric_series`` of a log file; a log not written yet has no metrics."""
    try:
        with log_file.open(errors="replace") as handle:
            return metric_series(handle, definitions)
    except OSError:
        return {}


# The metric definitions SageMaker holds for built-in algorithms other than XGBoost (whose
# round lines are read above), by image repository: what the algorithm's log lines say.
BUILTIN_DEFINITIONS: dict[str, tuple[dict[str, str], ...]] = {
    "knn": (
        {"Name": "test:accuracy", "Regex": r"#test_score \(algo-1\) : \('accuracy', (\S+?)\)"},
        {"Name": "test:mse", "Regex": r"#test_score \(algo-1\) : \('mse', (\S+?)\)"},
    ),
}


def builtin_metric_names(repository: str) -> set[str]:
    return {definition["Name"] for definition in BUILTIN_DEFINITIONS.get(repository, ())}


def definitions_of(record: dict[str, Any]) -> list[dict[str, str]]:
    """The job's MetricDefinitions, and its built-in algorithm's when it runs one."""
    specification = record.get("AlgorithmSpecification", {})
    repository = images.repository(specification.get("TrainingImage", ""))
    return [*specification.get("MetricDefinitions", []), *BUILTIN_DEFINITIONS.get(repository, ())]


def final_metric_data_list(
    log_file: Path, record: dict[str, Any], moment: dt.datetime
) -> list[dict[str, Any]]:
    """DescribeTrainingJob's FinalMetricDataList: each metric's last value."""
    definitions = definitions_of(record)
    return [
        {"MetricName": name, "Value": values[-1][1], "Timestamp": moment}
        for name, values in read_series(log_file, definitions).items()
        if values
    ]
