"""The model report: five real charts from a real evaluation and booster, an HTML page that
shows them, checked in headless Chromium as a person would see it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib import image

from include.adult_income import report
from tests.conftest import TrainedModel
from tests.scripts.conftest import load_script


@pytest.fixture(scope="module")
def evaluation(trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("evaluation")
    args = [
        "--model-dir",
        str(trained_model.booster_path.parent),
        "--test-dir",
        str(trained_model.processed / "test"),
        "--output-dir",
        str(out),
    ]
    assert load_script("evaluate").main(args) == 0
    return json.loads((out / "evaluation.json").read_text())


@pytest.fixture(scope="module")
def importance(trained_model: TrainedModel) -> list[tuple[str, float]]:
    schema = json.loads((trained_model.processed / "schema" / "schema.json").read_text())
    return report.feature_importance(trained_model.booster_path, schema["feature_columns"])


@pytest.fixture(scope="module")
def rendered(evaluation, importance, tmp_path_factory) -> list[Path]:
    facts = {"run": "manual__1", "decision": "registered", "note": "<script>alert(1)</script>"}
    out = tmp_path_factory.mktemp("report")
    return report.render_report(evaluation, importance, out, title="Adult <income>", facts=facts)


def test_importance_names_real_features_largest_first(trained_model, importance) -> None:
    schema = json.loads((trained_model.processed / "schema" / "schema.json").read_text())
    names = [name for name, _ in importance]
    gains = [gain for _, gain in importance]
    assert set(names) <= set(schema["feature_columns"])
    assert gains == sorted(gains, reverse=True) and gains[0] > 0
    assert len(importance) == 15


def test_every_chart_is_a_real_png(rendered: list[Path]) -> None:
    assert rendered[0].name == "report.html"
    assert [p.name for p in rendered[1:]] == list(report.CHARTS)
    for path in rendered[1:]:
        pixels = image.imread(path)
        height, width = pixels.shape[:2]
        assert height > 300 and width > 300, path.name
        assert pixels.std() > 0.05, f"{path.name} looks blank"


def test_page_links_every_chart_and_escapes_what_it_shows(rendered: list[Path]) -> None:
    page = rendered[0].read_text()
    for name in report.CHARTS:
        assert page.count(f'src="{name}"') == 1
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Adult &lt;income&gt;" in page
    assert "0.8" in page  # the accuracy row of the metrics table


def test_missing_curve_data_is_named(evaluation, importance, tmp_path: Path) -> None:
    broken = {**evaluation, "curves": {"roc": evaluation["curves"]["roc"]}}
    with pytest.raises(ValueError, match=r"curves\.precision_recall"):
        report.render_report(broken, importance, tmp_path, title="t", facts={})


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="no Chromium: `make test` installs Debian's")
def test_chromium_renders_the_page_with_every_chart_loaded(rendered: list[Path]) -> None:
    folder = rendered[0].parent
    # A copy of the page that reports, once loaded, how many images decoded with a real size.
    probe = folder / "probe.html"
    probe.write_text(
        rendered[0]
        .read_text()
        .replace(
            "</body>",
            "<script>window.addEventListener('load', () => { const ok = [...document.images]"
            ".filter(i => i.complete && i.naturalWidth > 100).length;"
            " document.body.setAttribute('data-loaded', ok); });</script></body>",
        )
    )
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    browser += ["--allow-file-access-from-files", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [*browser, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=60
    )
    assert f'data-loaded="{len(report.CHARTS)}"' in dom.stdout, dom.stderr[-1000:]

    shot = folder / "screenshot.png"
    subprocess.run(
        [*browser, "--window-size=1280,2400", f"--screenshot={shot}", rendered[0].as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    pixels = image.imread(shot)
    coloured = (pixels[..., :3].max(axis=2) - pixels[..., :3].min(axis=2)) > 0.2
    # The charts' lines, bars and heat map are coloured; text and borders are grey.
    assert coloured.mean() > 0.01, "the screenshot shows no coloured chart"
