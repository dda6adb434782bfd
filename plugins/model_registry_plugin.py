"""Airflow plugin: "Model registry" in the Airflow UI.

A FastAPI app (model_registry/app.py) mounted by the API server at /model-registry, shown by
two external views: the registry page in the navigation, and a run's summary and report as a
tab of each DAG run (the UI fills in {DAG_ID} and {RUN_ID}). The hrefs are relative: the UI
resolves them against its base URL, so a base_url path still works.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from model_registry.app import MOUNT, create_app


class ModelRegistryPlugin(AirflowPlugin):
    name = "model_registry"
    fastapi_apps = [{"app": create_app(), "url_prefix": MOUNT, "name": "Model registry"}]
    external_views = [
        {
            "name": "Model registry",
            "href": f"{MOUNT.lstrip('/')}/",
            "url_route": "model-registry",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Model report",
            "href": f"{MOUNT.lstrip('/')}/runs/{{DAG_ID}}/{{RUN_ID}}",
            # the UI adds a tab to each DAG run only for a view with a url_route
            "url_route": "model-report",
            "destination": "dag_run",
        },
    ]
