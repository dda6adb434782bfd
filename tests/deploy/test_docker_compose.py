"""docker-compose.yaml parses (`docker-compose config` needs no Docker engine) and is complete."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


@pytest.fixture(scope="module")
def resolved() -> dict:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is not installed (make test installs Debian's package)"
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_stack_has_airflow_3_components_postgres_and_emulator(resolved: dict) -> None:
    services = set(resolved["services"])
    assert AIRFLOW_SERVICES | {"postgres", "emulator", "airflow-init"} <= services


def test_every_long_running_service_has_a_healthcheck(resolved: dict) -> None:
    for name, service in resolved["services"].items():
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_airflow_services_wait_for_database_and_emulator(resolved: dict) -> None:
    for name in AIRFLOW_SERVICES:
        depends = resolved["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["emulator"]["condition"] == "service_healthy", name


def test_project_code_is_mounted_and_image_built_from_the_lock(resolved: dict) -> None:
    scheduler = resolved["services"]["airflow-scheduler"]
    # docker-compose 1.x prints short "source:target:mode" volumes; v2 prints mappings.
    targets = {
        volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
        for volume in scheduler["volumes"]
    }
    assert {"/opt/airflow/dags", "/opt/airflow/include"} <= targets
    dockerfile = (ROOT / scheduler["build"]["dockerfile"]).read_text()
    assert "requirements.lock" in dockerfile


def test_settings_are_airflow_variables_the_dags_read(resolved: dict) -> None:
    from include.adult_income import settings

    known = {settings.environment_variable(name) for name in settings.NAMES}
    for name in AIRFLOW_SERVICES:
        environment = resolved["services"][name]["environment"]
        given = {key for key in environment if key.startswith("AIRFLOW_VAR_")}
        assert {"AIRFLOW_VAR_ADULT_PIPELINE_BUCKET", "AIRFLOW_VAR_ADULT_PIPELINE_ROLE_ARN"} <= given
        assert given <= known, given - known  # no typo'd Variable that nothing reads
        assert not any(key.startswith("ADULT_PIPELINE_") for key in environment), name
