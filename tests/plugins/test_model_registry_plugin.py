"""The plugin as Airflow loads it from plugins/ (model_registry_plugin.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tools.offline import offline_environment


def test_airflow_plugins_lists_it_with_its_app_and_views(tmp_path: Path) -> None:
    # the environment make run / make airflow give Airflow: plugins/ is the plugins folder
    env = offline_environment("http://127.0.0.1:9", tmp_path / "airflow")
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "--output", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    plugins = {plugin["name"]: plugin for plugin in json.loads(listed[listed.index("[") :])}
    plugin = plugins["model_registry"]
    assert plugin["source"].endswith("model_registry_plugin.py")
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/model-registry"]
    views = {view["name"]: view for view in plugin["external_views"]}
    assert views["Model registry"]["destination"] == "nav"
    assert views["Model registry"]["href"] == "model-registry/"
    # a DAG-run tab: the UI fills in the run and shows only views with a url_route as tabs
    report = views["Model report"]
    assert report["destination"] == "dag_run"
    assert report["href"] == "model-registry/runs/{DAG_ID}/{RUN_ID}"
    assert report["url_route"] == "model-report"
