"""The model report: evaluation.json rendered as report.html with PNG charts.

Charts: ROC curve, precision-recall curve, calibration (predicted vs observed per bin),
confusion matrix and the booster's feature importance (total gain, named after the schema's
feature columns, as evaluate.py ranks them in the container's own xgboost). report.html refers
to the PNGs by relative path and needs nothing else (inline CSS, no script, no remote
resource), so the folder can be uploaded to S3 as it is and opened from a local copy.

matplotlib is imported inside the function that draws: Airflow tasks import this module, and
only the task that draws the report should pay for it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# File name -> alt text (each chart carries its own title), in the order the page shows them.
CHARTS = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision-recall curve",
    "calibration.png": "Calibration",
    "confusion_matrix.png": "Confusion matrix",
    "feature_importance.png": "Feature importance (total gain)",
}
# Every file render_report writes: the page and its charts (make run copies them, the
# model-registry page serves them, nothing else).
REPORT_FILES = ("report.html", *CHARTS)
# metrics.<name>.value in evaluation.json -> the label the page gives it.
HEADLINE_METRICS = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC AUC",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "log_loss": "Log loss",
    "threshold": "Threshold",
    "row_count": "Test rows",
}
DPI = 110
CONFUSION_CELLS = ("tn", "fp", "fn", "tp")


def feature_importance(evaluation: dict[str, Any], top: int = 15) -> list[tuple[str, float]]:
    """evaluate.py's ``feature_importance`` (each feature's total gain, largest first) as
    (name, gain) pairs, at most ``top`` of them; a ValueError names what is unusable."""
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    ranked = required(evaluation, ("feature_importance",), "feature importance chart")
    if not isinstance(ranked, list):
        raise ValueError("evaluation.json: feature_importance is not a list")
    pairs = []
    for index, entry in enumerate(ranked[:top]):
        name = key_name(("feature_importance", index))
        if not isinstance(entry, dict) or not isinstance(entry.get("feature"), str):
            raise ValueError(f"evaluation.json: {name} has no feature name")
        pairs.append((entry["feature"], finite(entry.get("total_gain"), f"{name}.total_gain")))
    return pairs


def render_report(
    evaluation: dict[str, Any],
    importance: list[tuple[str, float]],
    out_dir: Path,
    *,
    title: str,
    facts: dict[str, str],
) -> list[Path]:
    """Write the five charts and report.html into ``out_dir``; returns the files, HTML first.

    Raises ValueError naming the missing or unusable key of ``evaluation`` before writing
    anything, so a broken evaluation never leaves a half-drawn report behind.
    """
    data = chart_data(evaluation)
    if not importance:
        raise ValueError("feature importance is empty: the booster has no split to rank")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawers: dict[str, Callable[[Any], None]] = {
        "roc.png": lambda axes: draw_roc(axes, data["roc"], data["auc"]),
        "precision_recall.png": lambda axes: draw_precision_recall(
            axes, data["precision_recall"], data["confusion"]
        ),
        "calibration.png": lambda axes: draw_calibration(axes, data["calibration"]),
        "confusion_matrix.png": lambda axes: draw_confusion(
            axes, data["confusion"], data["threshold"]
        ),
        "feature_importance.png": lambda axes: draw_importance(axes, importance),
    }
    # Inches; the importance chart grows with the number of bars so labels never overlap.
    sizes = {
        "confusion_matrix.png": (4.5, 4.0),
        "feature_importance.png": (7.0, 0.35 * len(importance) + 1.2),
    }
    charts = []
    for name, draw in drawers.items():
        # A bare Figure on the Agg canvas, not pyplot: no global backend switch and no figure
        # registry to leak from in a long-lived Airflow worker.
        figure = Figure(figsize=sizes.get(name, (5.0, 4.5)), dpi=DPI)
        FigureCanvasAgg(figure)
        draw(figure.add_subplot())
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=DPI)
        charts.append((out_dir / name, *png_size(out_dir / name)))
    page = out_dir / "report.html"
    # The charts first: a page on disk never points at a chart that is not there yet.
    page.write_text(report_html(evaluation, charts, title=title, facts=facts), encoding="utf-8")
    return [page, *(path for path, _, _ in charts)]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk: what the browser will see, with no rounding
    of inches times DPI to disagree with it."""
    with path.open("rb") as handle:
        header = handle.read(24)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def chart_data(evaluation: dict[str, Any]) -> dict[str, Any]:
    """What the charts draw, checked: ValueError names the first missing or unusable key."""
    roc = series(evaluation, ("curves", "roc"), ("fpr", "tpr"), "ROC curve")
    precision_recall = series(
        evaluation,
        ("curves", "precision_recall"),
        ("recall", "precision"),
        "precision-recall curve",
    )
    auc = number(evaluation, ("metrics", "roc_auc", "value"), "ROC curve")
    bins = required(evaluation, ("calibration",), "calibration chart")
    if not isinstance(bins, list):
        raise ValueError("evaluation.json: calibration is not a list of bins")
    calibration = []
    for index in range(len(bins)):
        count = number(evaluation, ("calibration", index, "count"), "calibration chart")
        if count > 0:
            predicted, observed = (
                number(evaluation, ("calibration", index, key), "calibration chart")
                for key in ("mean_predicted", "observed_rate")
            )
            calibration.append((predicted, observed, int(count)))
    if not calibration:
        raise ValueError("evaluation.json: calibration has no bin with any prediction in it")
    confusion = {
        cell: int(number(evaluation, ("metrics", "confusion_matrix", cell), "confusion matrix"))
        for cell in CONFUSION_CELLS
    }
    threshold = evaluation.get("metrics", {}).get("threshold", {}).get("value")
    return {
        "roc": roc,
        "precision_recall": precision_recall,
        "auc": auc,
        "calibration": calibration,
        "confusion": confusion,
        "threshold": threshold,
    }


def key_name(keys: Sequence[str | int]) -> str:
    """``("calibration", 3, "count")`` -> ``calibration[3].count``, as the error names it."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in keys).lstrip(".")


def required(evaluation: dict[str, Any], keys: Sequence[str | int], needed_for: str) -> Any:
    """The value at ``keys`` in ``evaluation``; a ValueError naming the key if it is absent or
    null (evaluate.py writes null, for instance, for the AUC of a one-class test set)."""
    value: Any = evaluation
    for index, key in enumerate(keys):
        if isinstance(key, int):
            present = isinstance(value, list) and 0 <= key < len(value)
        else:
            present = isinstance(value, dict) and key in value
        if not present or value[key] is None:
            missing = key_name(keys[: index + 1])
            looked_for = "" if len(keys) == index + 1 else f"looked for {key_name(keys)}, "
            raise ValueError(
                f"evaluation.json has no {missing} ({looked_for}needed for the {needed_for})"
            )
        value = value[key]
    return value


def number(evaluation: dict[str, Any], keys: Sequence[str | int], needed_for: str) -> float:
    return finite(required(evaluation, keys, needed_for), key_name(keys))


def finite(value: Any, name: str) -> float:
    # bool is an int to Python, but true is no count or rate.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"evaluation.json: {name} is {value!r}, not a finite number")
    return float(value)


def series(
    evaluation: dict[str, Any],
    curve: tuple[str, str],
    axes: tuple[str, str],
    needed_for: str,
) -> tuple[list[float], list[float]]:
    """A curve's x and y: two equally long, non-empty lists of numbers."""
    x, y = (required(evaluation, (*curve, axis), needed_for) for axis in axes)
    for axis, values in zip(axes, (x, y), strict=True):
        if not isinstance(values, list) or not values:
            name = key_name((*curve, axis))
            raise ValueError(f"evaluation.json: {name} is empty (needed for the {needed_for})")
    if len(x) != len(y):
        raise ValueError(
            f"evaluation.json: {key_name((*curve, axes[0]))} and {axes[1]} differ in length "
            f"({len(x)} and {len(y)})"
        )
    xs, ys = (
        [finite(value, f"{key_name((*curve, axis))}[{i}]") for i, value in enumerate(values)]
        for axis, values in zip(axes, (x, y), strict=True)
    )
    return xs, ys


def draw_roc(axes: Any, roc: tuple[list[float], list[float]], auc: float) -> None:
    fpr, tpr = roc
    axes.plot(fpr, tpr, color="#1f77b4", label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower right")


def draw_precision_recall(
    axes: Any, curve: tuple[list[float], list[float]], confusion: dict[str, int]
) -> None:
    recall, precision = curve
    axes.plot(recall, precision, color="#ff7f0e", label="model")
    # What precision a model with no skill gets: the share of positives in the test set.
    base_rate = (confusion["tp"] + confusion["fn"]) / max(1, sum(confusion.values()))
    axes.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.2f}")
    axes.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower left")


def draw_calibration(axes: Any, calibration: Sequence[tuple[float, float, int]]) -> None:
    predicted = [row[0] for row in calibration]
    observed = [row[1] for row in calibration]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(predicted, observed, marker="o", color="#2ca02c", label="model")
    for x, y, count in calibration:
        # A bin's point is only as trustworthy as the rows behind it.
        # Right of the point, or left near the right edge; boxed so the lines never hide it.
        right = x < 0.85
        axes.annotate(
            f"{count:,}",
            (x, y),
            textcoords="offset points",
            xytext=(6 if right else -6, -10),
            ha="left" if right else "right",
            fontsize=7,
            color="#444",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
        )
    axes.set(xlabel="Mean predicted probability", ylabel="Observed rate of >50K")
    axes.set(title="Calibration (rows per bin annotated)", xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="upper left")


def draw_confusion(axes: Any, confusion: dict[str, int], threshold: float | None) -> None:
    cells = [[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]]
    axes.imshow(cells, cmap="Blues")
    largest = max(max(row) for row in cells)
    for row in range(2):
        for column in range(2):
            value = cells[row][column]
            # White on the dark cells, black on the light ones, so every count stays legible.
            colour = "white" if value > largest / 2 else "black"
            axes.text(column, row, f"{value:,}", ha="center", va="center", fontsize=13,
                      color=colour)  # fmt: skip
    axes.set_xticks([0, 1], labels=["<=50K", ">50K"])
    axes.set_yticks([0, 1], labels=["<=50K", ">50K"])
    at = f" (threshold {threshold:g})" if isinstance(threshold, int | float) else ""
    axes.set(xlabel="Predicted", ylabel="Actual", title=f"Confusion matrix{at}")


def draw_importance(axes: Any, importance: Sequence[tuple[str, float]]) -> None:
    # barh draws bottom-up: reversed, the most important feature is on top.
    names = [name for name, _ in reversed(importance)]
    gains = [gain for _, gain in reversed(importance)]
    axes.barh(names, gains, color="#9467bd")
    axes.set(xlabel="Total gain", title=f"Feature importance (top {len(importance)})")


def metric_rows(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline metrics evaluate.py wrote, formatted; the ones it left out are skipped."""
    metrics = evaluation.get("metrics", {})
    rows = []
    for name, label in HEADLINE_METRICS.items():
        value = metrics.get(name, {}).get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rows.append((label, f"{value:,}" if isinstance(value, int) else f"{value:.4f}"))
    return rows


def score(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:.4f}"


def champion_section(evaluation: dict[str, Any]) -> str:
    """This run's model beside the group's champion, both on this run's test set; empty when
    evaluation.json does not speak of a champion (an older evaluate job)."""
    if "champion" not in evaluation:
        return ""
    champion = evaluation["champion"]
    if not isinstance(champion, dict):
        body = "<p>The group had no approved version to compare with.</p>"
        return f"<section>\n<h2>Champion / challenger</h2>\n{body}\n</section>"
    metrics = evaluation.get("metrics", {})
    rows = [
        ("", "this run (challenger)", str(champion.get("model_package_arn") or "champion")),
        (
            "Accuracy",
            score(metrics.get("accuracy", {}).get("value")),
            score(champion.get("accuracy")),
        ),
        ("ROC AUC", score(metrics.get("roc_auc", {}).get("value")), score(champion.get("roc_auc"))),
    ]
    head, *body_rows = rows
    cells = "\n".join(
        f"<tr><th scope=row>{html.escape(name)}</th><td>{html.escape(mine)}</td>"
        f"<td>{html.escape(theirs)}</td></tr>"
        for name, mine, theirs in body_rows
    )
    header = (
        f"<tr><th></th><th scope=col>{html.escape(head[1])}</th>"
        f"<th scope=col>{html.escape(head[2])}</th></tr>"
    )
    note = ""
    if champion.get("reason"):
        note = f"\n<p>Not compared: {html.escape(str(champion['reason']))}</p>"
    return (
        "<section>\n<h2>Champion / challenger (this run's test set)</h2>\n"
        f"<table class=champion>\n{header}\n{cells}\n</table>{note}\n</section>"
    )


def table(rows: list[tuple[str, str]]) -> str:
    cells = "\n".join(
        f"<tr><th scope=row>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
        for key, value in rows
    )
    return f"<table>\n{cells}\n</table>"


def report_html(
    evaluation: dict[str, Any],
    charts: list[tuple[Path, int, int]],
    *,
    title: str,
    facts: dict[str, str],
) -> str:
    figures = "\n".join(
        f'<figure><img src="{html.escape(path.name)}" alt="{html.escape(CHARTS[path.name])}" '
        f'width="{width}" height="{height}"></figure>'
        for path, width, height in charts
    )
    fact_rows = [(str(key), str(value)) for key, value in facts.items()]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1240px; }}
h1 {{ font-size: 1.5rem; }}
h2 {{ font-size: 1.1rem; margin-bottom: 0.4rem; }}
.tables {{ display: flex; flex-wrap: wrap; gap: 0 2.5rem; }}
table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
th, td {{ border: 1px solid #ddd; padding: 0.3rem 0.7rem; text-align: left; }}
th {{ background: #f4f4f4; font-weight: 600; }}
td {{ font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; border: 1px solid #eee; padding: 0.5rem; }}
img {{ display: block; max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<div class="tables">
<section>
<h2>Run</h2>
{table(fact_rows)}
</section>
<section>
<h2>Test-set metrics</h2>
{table(metric_rows(evaluation))}
</section>
{champion_section(evaluation)}
</div>
<section class="charts">
{figures}
</section>
</body>
</html>
"""
