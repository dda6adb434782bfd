"""The model report: five real charts from a real evaluation, an HTML page that shows them,
checked in headless Chromium as a person would see it.

The run behind it is small but real: preprocess.py on every eighth row of the bundled data, the
emulator's built-in XGBoost algorithm (the artefact format the pipeline really produces: an
unnamed UBJSON booster called xgboost-model), model.tar.gz as SageMaker packs it, evaluate.py.
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image

from emulator.algorithms import xgboost_builtin
from include.adult_income import report
from tests.scripts.conftest import ADULT_CSV, ROOT, load_script, preprocess_args

EVERY_NTH_ROW = 8  # ~4,000 rows: a model worth charting, trained in about a second
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FACTS = {
    "run": "manual__2024-01-01T00:00:00+00:00",
    "decision": "registered",
    "note": "<script>alert('x')</script> & more",
}
TITLE = "Adult <income> report"


@dataclass(frozen=True)
class Run:
    evaluation: dict[str, Any]
    feature_columns: list[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("report-run")
    lines = ADULT_CSV.read_text().splitlines(keepends=True)
    # Every nth row, not the first n: the file is not in random order.
    (root / "raw").mkdir()
    (root / "raw" / "adult.csv").write_text("".join([lines[0], *lines[1::EVERY_NTH_ROW]]))
    processed = root / "processed"
    assert load_script("preprocess").main(preprocess_args(root / "raw", processed)) == 0

    config = root / "config"
    config.mkdir()
    hyperparameters = {"objective": "binary:logistic", "num_round": "30", "max_depth": "4"}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    trained = root / "trained"
    args = ["--config-dir", str(config), "--data-dir", str(processed), "--model-dir", str(trained)]
    assert xgboost_builtin.main([*args, "--output-dir", str(root / "output")]) == 0

    artefact = root / "artefact"
    artefact.mkdir()
    with tarfile.open(artefact / "model.tar.gz", "w:gz") as archive:
        archive.add(trained / "xgboost-model", arcname="xgboost-model")
    evaluation_dir = root / "evaluation"
    args = ["--model-dir", str(artefact), "--test-dir", str(processed / "test")]
    args += ["--schema-dir", str(processed / "schema")]
    assert load_script("evaluate").main([*args, "--output-dir", str(evaluation_dir)]) == 0

    schema = json.loads((processed / "schema" / "schema.json").read_text())
    return Run(
        evaluation=json.loads((evaluation_dir / "evaluation.json").read_text()),
        feature_columns=schema["feature_columns"],
    )


@pytest.fixture(scope="module")
def importance(run: Run) -> list[tuple[str, float]]:
    return report.feature_importance(run.evaluation)


@pytest.fixture(scope="module")
def rendered(
    run: Run, importance: list[tuple[str, float]], tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    out = tmp_path_factory.mktemp("report") / "report"
    return report.render_report(run.evaluation, importance, out, title=TITLE, facts=FACTS)


def test_importance_names_real_features_largest_first(
    run: Run, importance: list[tuple[str, float]]
) -> None:
    names = [name for name, _ in importance]
    gains = [gain for _, gain in importance]
    assert len(importance) == 15
    assert len(set(names)) == len(names)
    assert set(names) <= set(run.feature_columns), set(names) - set(run.feature_columns)
    assert gains == sorted(gains, reverse=True)
    assert gains[0] > 0


def test_importance_keeps_the_evaluations_order_and_at_most_top(run: Run) -> None:
    ranked = run.evaluation["feature_importance"]
    assert report.feature_importance(run.evaluation, top=3) == [
        (entry["feature"], entry["total_gain"]) for entry in ranked[:3]
    ]
    with pytest.raises(ValueError, match="top must be at least 1"):
        report.feature_importance(run.evaluation, top=0)


@pytest.mark.parametrize(
    ("importance", "problem"),
    [
        (None, "evaluation.json has no feature_importance"),
        ({"age": 1.0}, "feature_importance is not a list"),
        ([{"total_gain": 1.0}], r"feature_importance\[0\] has no feature name"),
        ([{"feature": "age", "total_gain": "NaN"}], r"feature_importance\[0\].total_gain is"),
    ],
)
def test_unusable_importance_is_refused_naming_the_entry(
    run: Run, importance: Any, problem: str
) -> None:
    evaluation = {**run.evaluation, "feature_importance": importance}
    with pytest.raises(ValueError, match=problem):
        report.feature_importance(evaluation)


def test_every_chart_is_a_real_png(rendered: list[Path]) -> None:
    assert rendered[0].name == "report.html"
    assert [path.name for path in rendered[1:]] == list(report.CHARTS)
    for path in rendered[1:]:
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path.name
        pixels = image.imread(path)
        height, width = pixels.shape[:2]
        assert height >= 300 and width >= 400, (path.name, pixels.shape)
        not_white = (pixels[..., :3] < 0.9).any(axis=2).mean()
        assert 0.02 < not_white < 0.9, f"{path.name}: {not_white:.1%} of pixels drawn"


class PageParser(HTMLParser):
    """Every tag's attributes and the text of each table row, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self.in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
            self.in_row = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.in_row = False

    def handle_data(self, data: str) -> None:
        if self.in_row and data.strip():
            self.rows[-1].append(data.strip())


def test_page_shows_every_chart_the_facts_and_the_metrics(rendered: list[Path], run: Run) -> None:
    page = rendered[0].read_text(encoding="utf-8")
    parser = PageParser()
    parser.feed(page)
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert [attrs["src"] for attrs in images] == list(report.CHARTS)
    assert [attrs["alt"] for attrs in images] == list(report.CHARTS.values())
    for name, attrs in zip(report.CHARTS, images, strict=True):
        assert page.count(f'src="{name}"') == 1
        # Declared size = the PNG's own, so the browser lays the page out without distortion.
        height, width = image.imread(rendered[0].with_name(name)).shape[:2]
        assert (attrs["width"], attrs["height"]) == (str(width), str(height)), name
    # Self-contained: nothing fetched from elsewhere, nothing to run.
    assert not {tag for tag, _ in parser.tags} & {"script", "link", "iframe", "object"}
    assert not re.search(r"(?:src|href)=\"?(?:https?:|//|/)", page)

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "<title>Adult &lt;income&gt; report</title>" in page
    rows = {row[0]: row[1] for row in parser.rows if len(row) == 2}
    for key, value in FACTS.items():
        assert rows[key] == value  # what a reader sees once the entities are decoded
    metrics = run.evaluation["metrics"]
    for label, name in [("Accuracy", "accuracy"), ("ROC AUC", "roc_auc"), ("F1", "f1")]:
        assert rows[label] == f"{metrics[name]['value']:.4f}"
    for label in ("Precision", "Recall", "Log loss", "Threshold", "Test rows"):
        assert label in rows


@pytest.mark.parametrize(
    "keys",
    [
        ("curves", "roc"),
        ("curves", "precision_recall"),
        ("curves", "roc", "tpr"),
        ("curves", "precision_recall", "recall"),
        ("calibration",),
        ("calibration", 4, "observed_rate"),
        ("metrics", "confusion_matrix"),
        ("metrics", "confusion_matrix", "tp"),
        ("metrics", "roc_auc"),
    ],
    ids=lambda keys: ".".join(map(str, keys)),
)
def test_missing_chart_data_is_named_and_nothing_is_written(
    run: Run, importance: list[tuple[str, float]], tmp_path: Path, keys: tuple[str | int, ...]
) -> None:
    broken = copy.deepcopy(run.evaluation)
    parent: Any = broken
    for key in keys[:-1]:
        parent = parent[key]
    assert parent[keys[-1]] is not None  # the key really was there (bin 4 has rows)
    del parent[keys[-1]]
    name = report.key_name(keys)

    with pytest.raises(ValueError, match=re.escape(f"no {name} ")):
        report.render_report(broken, importance, tmp_path / "out", title="t", facts={})
    assert not (tmp_path / "out").exists()


def test_empty_curve_and_one_class_auc_are_refused(
    run: Run, importance: list[tuple[str, float]], tmp_path: Path
) -> None:
    empty = copy.deepcopy(run.evaluation)
    empty["curves"]["roc"]["fpr"] = []
    with pytest.raises(ValueError, match=r"curves\.roc\.fpr is empty"):
        report.render_report(empty, importance, tmp_path, title="t", facts={})
    # evaluate.py writes a null AUC and no curves when the test set holds one class only.
    one_class = copy.deepcopy(run.evaluation)
    one_class["metrics"]["roc_auc"]["value"] = None
    with pytest.raises(ValueError, match=r"metrics\.roc_auc\.value"):
        report.render_report(one_class, importance, tmp_path, title="t", facts={})
    with pytest.raises(ValueError, match="feature importance is empty"):
        report.render_report(run.evaluation, [], tmp_path, title="t", facts={})


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"]
    candidates += ["google-chrome", "google-chrome-stable", "/usr/bin/chromium"]
    return next((found for c in candidates if c and (found := shutil.which(c))), None)


CHROMIUM = find_chromium()
PROBE = """<script>
window.addEventListener("load", () => {
  const seen = [...document.images].map(i => [i.getAttribute("src"), i.naturalWidth,
    i.naturalHeight, i.getBoundingClientRect().width]);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.append(out);
});
</script>"""


def browse(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += ["--no-first-run", "--allow-file-access-from-files", "--virtual-time-budget=5000"]
    # A profile of its own: no lock shared with another Chromium, nothing left in $HOME.
    command += [f"--user-data-dir={folder / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium, chromium-browser or google-chrome on PATH (nor $CHROMIUM): "
    "tools/ensure_system_tools.sh installs Debian's (make test runs it)",
)
def test_chromium_shows_the_page_with_every_chart_loaded(
    rendered: list[Path], tmp_path: Path
) -> None:
    page = rendered[0]
    # A copy of the page, beside the charts, that writes down once loaded what each image
    # decoded to; the report itself stays script-free.
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dumped = browse(tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.S)
    probe.unlink()
    assert found, f"no probe output; chromium said: {dumped.stderr[-2000:]}"
    seen = json.loads(html.unescape(found.group(1)))
    assert [src for src, *_ in seen] == list(report.CHARTS)
    for src, natural_width, natural_height, shown_width in seen:
        expected_height, expected_width = image.imread(page.with_name(src)).shape[:2]
        assert (natural_width, natural_height) == (expected_width, expected_height), src
        assert shown_width > 200, f"{src} is shown {shown_width}px wide"

    shot = tmp_path / "screenshot.png"
    taken = browse(tmp_path, "--window-size=1280,2600", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), taken.stderr[-2000:]
    pixels = image.imread(shot)[..., :3]
    assert (pixels < 0.9).any(axis=2).mean() > 0.03, "the screenshot is (nearly) blank"
    # The charts' lines, bars and heat map are coloured; the page's text and borders are grey.
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.2
    assert coloured.mean() > 0.01, "the screenshot shows no coloured chart"
    # ... and a page whose images are broken shows none, so the check above can fail.
    broken = page.with_name("broken.html")
    broken.write_text(page.read_text(encoding="utf-8").replace('src="', 'src="missing-'))
    broken_shot = tmp_path / "broken.png"
    browse(tmp_path, "--window-size=1280,2600", f"--screenshot={broken_shot}", broken.as_uri())
    broken.unlink()
    broken_pixels = image.imread(broken_shot)[..., :3]
    assert ((broken_pixels.max(axis=2) - broken_pixels.min(axis=2)) > 0.2).mean() < 0.001


def test_module_imports_no_heavy_library() -> None:
    # Airflow tasks import the module; only rendering may pay for matplotlib and xgboost.
    code = "import sys, include.adult_income.report; print(sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(done.stdout.split("'"))
    assert not loaded & {"xgboost", "matplotlib", "pandas", "numpy"}


def champion_table_rows(page: str) -> list[list[str]]:
    section = page.split("<table class=champion>", 1)[1].split("</table>", 1)[0]
    parser = PageParser()
    parser.feed(section)
    return parser.rows


def test_the_champion_stands_beside_the_challenger(
    run: Run, importance: list[tuple[str, float]], tmp_path: Path
) -> None:
    evaluation = copy.deepcopy(run.evaluation)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/adult-income-xgboost/1"
    evaluation["champion"] = {"model_package_arn": arn, "accuracy": 0.8123, "roc_auc": 0.9012}
    page = report.render_report(evaluation, importance, tmp_path, title=TITLE, facts=FACTS)
    rows = champion_table_rows(page[0].read_text(encoding="utf-8"))
    metrics = run.evaluation["metrics"]
    assert rows == [
        ["this run (challenger)", arn],
        ["Accuracy", f"{metrics['accuracy']['value']:.4f}", "0.8123"],
        ["ROC AUC", f"{metrics['roc_auc']['value']:.4f}", "0.9012"],
    ]


def test_a_champion_that_was_not_compared_says_why(
    run: Run, importance: list[tuple[str, float]], tmp_path: Path
) -> None:
    evaluation = copy.deepcopy(run.evaluation)
    evaluation["champion"] = {
        "model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/g/3",
        "accuracy": None,
        "roc_auc": None,
        "reason": "the champion was trained on another <feature> schema",
    }
    page = report.render_report(evaluation, importance, tmp_path, title=TITLE, facts=FACTS)
    text = page[0].read_text(encoding="utf-8")
    assert champion_table_rows(text)[1] == [
        "Accuracy",
        f"{run.evaluation['metrics']['accuracy']['value']:.4f}",
        "—",
    ]
    assert "Not compared: the champion was trained on another &lt;feature&gt; schema" in text


def test_no_champion_is_said_and_an_older_evaluation_shows_no_section(
    run: Run, importance: list[tuple[str, float]], tmp_path: Path
) -> None:
    evaluation = dict(copy.deepcopy(run.evaluation), champion=None)
    page = report.render_report(evaluation, importance, tmp_path / "a", title=TITLE, facts=FACTS)
    assert "no approved version to compare with" in page[0].read_text(encoding="utf-8")
    older = report.render_report(
        run.evaluation, importance, tmp_path / "b", title=TITLE, facts=FACTS
    )
    assert "Champion" not in older[0].read_text(encoding="utf-8")
