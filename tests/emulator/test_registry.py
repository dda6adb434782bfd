"""The engine's registry of SageMaker actions, and the README table that says what it serves."""

from __future__ import annotations

import re
from pathlib import Path

import emulator.sagemaker
from emulator.sagemaker.registry import ACTIONS

README = Path(__file__).resolve().parents[2] / "README.md"
TABLE = re.compile(r"<!-- sagemaker-actions -->\n(.*?)<!-- /sagemaker-actions -->", re.S)


def readme_actions() -> set[str]:
    match = TABLE.search(README.read_text())
    assert match, "README.md has no sagemaker-actions table"
    rows = [line.split("|")[2] for line in match.group(1).splitlines()[2:] if line.strip()]
    named = {name.strip() for row in rows for name in row.split(";")[0].split(",")}
    return named - {""}


def test_the_readme_table_lists_exactly_the_actions_the_engine_serves() -> None:
    emulator.sagemaker.load_resources()
    served = set(ACTIONS)
    listed = readme_actions()
    assert not served - listed, f"served, not in README's table: {sorted(served - listed)}"
    assert not listed - served, f"in README's table, not served: {sorted(listed - served)}"
