"""The model report: evaluation.json and the booster rendered as report.html with PNG charts.

Charts: ROC curve, precision-recall curve, calibration (predicted vs observed per bin),
confusion matrix and the booster's feature importance (total gain, named after the schema's
feature columns). report.html refers to the PNGs by relative path, so the folder can be
uploaded to S3 as it is and opened from a local copy.

matplotlib and xgboost are imported inside the functions: Airflow imports this module only in
the summary task, never while parsing the DAG.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

CHARTS = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision-recall curve",
    "calibration.png": "Calibration",
    "confusion_matrix.png": "Confusion matrix",
    "feature_importance.png": "Feature importance (total gain)",
}
HEADLINE_METRICS = ("accuracy", "roc_auc", "precision", "recall", "f1", "log_loss", "row_count")


def feature_importance(
    booster_path: Path, feature_columns: list[str], top: int = 15
) -> list[tuple[str, float]]:
    """Total-gain importance of the booster's features, named, largest first."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(Path(booster_path).read_bytes()))
    scores = booster.get_score(importance_type="total_gain")
    named = []
    for key, gain in scores.items():
        # The built-in algorithm trains on a matrix without names: features are f0, f1, ...
        index = int(key[1:]) if key.startswith("f") and key[1:].isdigit() else None
        name = feature_columns[index] if index is not None and index < len(feature_columns) else key
        named.append((name, float(gain)))
    return sorted(named, key=lambda item: item[1], reverse=True)[:top]


def required(evaluation: dict[str, Any], *path: str) -> Any:
    value: Any = evaluation
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"evaluation.json has no {'.'.join(path)}: cannot draw the report")
        value = value[key]
    return value


def render_report(
    evaluation: dict[str, Any],
    importance: list[tuple[str, float]],
    out_dir: Path,
    *,
    title: str,
    facts: dict[str, str],
) -> list[Path]:
    """Write the five charts and report.html into ``out_dir``; returns the files, HTML first."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    roc = required(evaluation, "curves", "roc")
    pr = required(evaluation, "curves", "precision_recall")
    calibration = required(evaluation, "calibration")
    confusion = required(evaluation, "metrics", "confusion_matrix")
    auc = required(evaluation, "metrics", "roc_auc", "value")
    if not importance:
        raise ValueError("no feature importance: the booster has no split to rank")

    def save(figure: Any, name: str) -> Path:
        path = out_dir / name
        figure.tight_layout()
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return path

    written = []
    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.plot(roc["fpr"], roc["tpr"], label=f"model (AUC {auc:.3f})", color="#1f77b4")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    written.append(save(figure, "roc.png"))

    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.plot(pr["recall"], pr["precision"], color="#ff7f0e")
    positives = confusion["tp"] + confusion["fn"]
    base_rate = positives / max(1, sum(confusion[k] for k in ("tp", "fp", "tn", "fn")))
    axes.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.2f}")
    axes.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
    axes.set_ylim(0, 1.02)
    axes.legend(loc="lower left")
    written.append(save(figure, "precision_recall.png"))

    figure, axes = plt.subplots(figsize=(5, 4.5))
    filled = [b for b in calibration if b.get("count")]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(
        [b["mean_predicted"] for b in filled],
        [b["observed_rate"] for b in filled],
        marker="o",
        color="#2ca02c",
        label="model",
    )
    axes.set(xlabel="Mean predicted probability", ylabel="Observed rate of >50K")
    axes.set_title("Calibration (10 bins)")
    axes.legend(loc="upper left")
    written.append(save(figure, "calibration.png"))

    figure, axes = plt.subplots(figsize=(4.5, 4))
    cells = [[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]]
    axes.imshow(cells, cmap="Blues")
    for row in range(2):
        for column in range(2):
            value = cells[row][column]
            dark = value > max(max(r) for r in cells) / 2
            axes.text(column, row, f"{value:,}", ha="center", va="center", fontsize=13,
                      color="white" if dark else "black")  # fmt: skip
    axes.set_xticks([0, 1], labels=["<=50K", ">50K"])
    axes.set_yticks([0, 1], labels=["<=50K", ">50K"])
    axes.set(xlabel="Predicted", ylabel="Actual", title="Confusion matrix (threshold 0.5)")
    written.append(save(figure, "confusion_matrix.png"))

    figure, axes = plt.subplots(figsize=(6.5, 0.35 * len(importance) + 1.2))
    names = [name for name, _ in reversed(importance)]
    gains = [gain for _, gain in reversed(importance)]
    axes.barh(names, gains, color="#9467bd")
    axes.set(xlabel="Total gain", title="Feature importance")
    written.append(save(figure, "feature_importance.png"))

    page = out_dir / "report.html"
    page.write_text(report_html(evaluation, title=title, facts=facts))
    return [page, *written]


def metric_rows(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    metrics = evaluation.get("metrics", {})
    rows = []
    for name in HEADLINE_METRICS:
        value = metrics.get(name, {}).get("value")
        if value is not None:
            shown = f"{value:,}" if isinstance(value, int) else f"{value:.4f}"
            rows.append((name.replace("_", " "), shown))
    return rows


def table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows
    )
    return f"<table>{cells}</table>"


def report_html(evaluation: dict[str, Any], *, title: str, facts: dict[str, str]) -> str:
    figures = "".join(
        f'<figure><img src="{name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in CHARTS.items()
    )
    fact_rows = [(key, str(value)) for key, value in facts.items()]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }}
h1 {{ font-size: 1.5rem; }}
table {{ border-collapse: collapse; margin: 0 2rem 1.5rem 0; display: inline-table;
        vertical-align: top; }}
th, td {{ border: 1px solid #ddd; padding: 0.3rem 0.7rem; text-align: left; }}
th {{ background: #f4f4f4; font-weight: 600; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; border: 1px solid #eee; padding: 0.5rem; }}
img {{ max-width: 560px; display: block; }}
figcaption {{ font-size: 0.9rem; color: #555; text-align: center; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<section>
<h2>Run</h2>
{table(fact_rows)}
</section>
<section>
<h2>Test-set metrics</h2>
{table(metric_rows(evaluation))}
</section>
<section class="charts">
{figures}
</section>
</body>
</html>
"""
