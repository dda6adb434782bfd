"""The benchmark plumbing: a child's own time and peak memory, and a document rendered from the
results files alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench import render
from bench.measure import run_measured, write_results


def test_run_measured_reads_the_childs_own_peak_memory() -> None:
    small = run_measured([sys.executable, "-c", "pass"])
    big = run_measured([sys.executable, "-c", "x = b'1' * (300 * 1024 * 1024)"])
    assert big.peak_mb - small.peak_mb > 200
    assert small.seconds > 0


def test_a_failing_child_is_an_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match="exited 3"):
        run_measured([sys.executable, "-c", "import sys; sys.exit(3)"])


def test_document_comes_from_the_results_files(tmp_path: Path, monkeypatch) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for path in render.RESULTS.glob("*.json"):
        (results / path.name).write_text(path.read_text())
    end_to_end = json.loads((results / "end_to_end.json").read_text())
    end_to_end["end_to_end_ratio"] = 12.34  # a value only this test could have written
    (results / "end_to_end.json").write_text(json.dumps(end_to_end))
    monkeypatch.setattr(render, "RESULTS", results)
    monkeypatch.setattr(render, "DOC", tmp_path / "BENCHMARKS.md")
    monkeypatch.setattr(render, "PLOTS", tmp_path / "bench")
    text = render.render().read_text()
    assert "**end_to_end_ratio = 12.34** (target ≤ 4.0: misses it)" in text
    for heading in (
        "## End to end",
        "### DAG parse time",
        "## Emulator overhead",
        "## InvokeEndpoint",
        "## Scale",
        "## Quality",
    ):
        assert heading in text
    # each job environment's import CPU, from bytecode beside from source (Python 3.8+ only)
    assert "| frameworks' import CPU | the same from source |" in text
    overhead = json.loads((results / "emulator_job_overhead.json").read_text())
    for row in overhead["environments"]:
        source = row.get("import_cpu_from_source_s")
        shown = "—" if source is None else f"{source} s"
        assert f"| {row['import_cpu_s']} s | {shown} |" in text, row["image"]
    for plot in ("end_to_end.png", "invoke_endpoint.png", "scale.png", "quality.png"):
        assert (tmp_path / "bench" / plot).stat().st_size > 5_000
        assert f"](bench/{plot})" in text


def test_a_result_file_is_the_result_as_json_and_is_shown(tmp_path: Path, capsys) -> None:
    path = tmp_path / "results" / "some_benchmark.json"
    result = {"seconds": 1.5, "runs": [1, 2], "machine": "x86_64"}
    write_results(path, result)
    assert json.loads(path.read_text()) == result
    assert path.read_text().endswith("}\n")
    assert json.loads(capsys.readouterr().out) == result
