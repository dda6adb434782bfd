"""The model-registry page in a real browser: headless Chromium (Debian's, driven by Playwright)
on Airflow's API server with the plugin loaded, against the emulator.

Two real runs of the DAG make the two versions: the first (smaller trees) registers its
version Approved and deploys it to an endpoint; the second (the default hyperparameters) is
measured against it, the champion, on its own test set and leaves its version
PendingManualApproval. The browser
logs in on Airflow's own login page (the simple auth manager's), opens "Model registry" in the
navigation and approves version 2 there; the registry then says Approved.

Set MODEL_REGISTRY_SCREENSHOT=docs/model-registry.png to refresh the README's screenshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.offline_account import OfflineAccount
from tests.support.processes import stop_session
from tools.offline import aws_client, offline_environment

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Flags that work in a container without a GPU, a sandbox or a network beyond loopback.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GROUP = "adult-income-xgboost"
DAG_ID = "adult_income_pipeline"
PASSWORDS = {"admin": "admin-password", "reader": "reader-password"}
ROLES = {"admin": "admin", "reader": "viewer"}


@dataclass(frozen=True)
class Stack:
    base_url: str
    emulator_url: str
    summaries: list[dict[str, Any]]  # run 1, run 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def two_runs(account: OfflineAccount) -> list[dict[str, Any]]:
    """Run the DAG on two dates in ``account``; their summaries, in order."""
    confs = {
        # smaller trees and fewer rounds than the defaults: a champion the second run beats
        "2026-11-01": {
            "model_approval_status": "Approved",
            "deploy": True,
            "num_round": 20,
            "max_depth": 3,
        },
        "2026-11-02": {},
    }
    summaries = []
    for date, conf in confs.items():
        code, summary = account.run(date, conf)
        assert code == 0 and summary is not None, f"the DAG run of {date} failed"
        summaries.append(summary)
    return summaries


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the API server exited:\n{log.read_text()[-4000:]}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=5) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(1)
    raise AssertionError(f"the API server did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def api_server(state_dir: Path, emulator_url: str) -> Iterator[str]:
    """Airflow's API server (UI and plugins) on the runs' metadata DB, with a login: an admin
    and a viewer whose passwords the test knows."""
    port = free_port()
    passwords = state_dir / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = offline_environment(emulator_url, state_dir / "airflow")
    env.update(
        {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in ROLES.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-" + "k" * 64,
        }
    )
    log = state_dir / "api-server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers go with it
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/api/v2/monitor/health", process, log)
        yield base_url
    finally:
        stop_session(process)


@pytest.fixture(scope="module")
def stack(account: OfflineAccount) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-tools` installs Debian's chromium")
    summaries = two_runs(account)
    with api_server(account.state_dir, account.emulator_url) as base_url:
        yield Stack(base_url=base_url, emulator_url=account.emulator_url, summaries=summaries)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # Two cores shared with DAG runs and an API server: allow the page time to answer.
    expect.set_options(timeout=30_000)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        # Debian's chromium, never a browser build of Playwright's own; a fresh profile.
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    browser.clear_cookies()
    page = browser.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.close()


def log_in(page: Any, stack: Stack, user: str) -> None:
    """Airflow's own login page: the plugin has none of its own."""
    page.goto(f"{stack.base_url}/auth/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def registry_frame(page: Any, stack: Stack) -> Any:
    page.goto(f"{stack.base_url}/plugin/model-registry")
    return page.frame_locator("iframe[title='Model registry']")


def version_row(frame: Any, version: int) -> Any:
    return frame.locator(f"section[data-group='{GROUP}'] tr.version[data-version='{version}']")


def test_page_lists_two_versions_made_by_two_runs_with_their_metrics(
    page: Any, stack: Stack
) -> None:
    from playwright.sync_api import expect

    log_in(page, stack, "admin")
    page.goto(stack.base_url)
    # the navigation has it (Browse menu)
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Model registry").click()
    frame = page.frame_locator("iframe[title='Model registry']")
    rows = frame.locator(f"section[data-group='{GROUP}'] tr.version")
    expect(rows).to_have_count(2)
    for version, summary in enumerate(stack.summaries, start=1):
        row = version_row(frame, version)
        assert summary["model_package_arn"].endswith(f"/{GROUP}/{version}")
        expect(row.locator("td.accuracy")).to_have_text(f"{summary['accuracy']:.4f}")
        expect(row.locator("td.roc-auc")).to_have_text(_roc_auc(stack, summary))
        expect(row.locator("a.dag-run")).to_have_text(summary["run_id"])
        expect(row).to_contain_text(summary["training_job"])
    first, second = version_row(frame, 1), version_row(frame, 2)
    expect(first.locator(".status")).to_have_text("Approved")
    expect(first.locator(".champion")).to_have_text("champion")
    expect(first).to_contain_text(stack.summaries[0]["endpoint"])
    expect(second.locator(".status")).to_have_text("PendingManualApproval")
    expect(second.locator(".champion")).to_have_count(0)
    # run 2 scored the champion (version 1) on its own test set
    champion = stack.summaries[1]["champion"]
    assert champion["model_package_arn"] == stack.summaries[0]["model_package_arn"]
    expect(second.locator("td.champion-comparison")).to_contain_text(
        f"v1: accuracy {champion['accuracy']:.4f}, AUC {champion['roc_auc']:.4f}"
    )
    # the UI's navigation and the page's content (it ends well above the window's bottom)
    image = page.screenshot(clip={"x": 0, "y": 0, "width": 1600, "height": 420})
    assert image.startswith(b"\x89PNG")
    if os.environ.get("MODEL_REGISTRY_SCREENSHOT"):
        Path(os.environ["MODEL_REGISTRY_SCREENSHOT"]).write_bytes(image)


def _roc_auc(stack: Stack, summary: dict[str, Any]) -> str:
    """The ROC AUC the run's evaluation.json holds (summary.json carries only accuracy)."""
    bucket, _, key = summary["evaluation_uri"].removeprefix("s3://").partition("/")
    body = aws_client("s3", stack.emulator_url).get_object(Bucket=bucket, Key=key)["Body"].read()
    return f"{json.loads(body)['metrics']['roc_auc']['value']:.4f}"


def test_approving_from_the_page_makes_the_version_approved(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    log_in(page, stack, "admin")
    frame = registry_frame(page, stack)
    row = version_row(frame, 2)
    row.locator("input[name=note]").fill("reviewed the report: better than version 1")
    row.locator("button.approve").click()
    # the page reloads with the registry's answer
    expect(version_row(frame, 2).locator(".status")).to_have_text("Approved")
    expect(version_row(frame, 2).locator(".champion")).to_have_text("champion")
    expect(version_row(frame, 1).locator(".champion")).to_have_count(0)
    package = aws_client("sagemaker", stack.emulator_url).describe_model_package(
        ModelPackageName=stack.summaries[1]["model_package_arn"]
    )
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "reviewed the report: better than version 1"


def test_a_viewer_reads_the_page_but_cannot_approve(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    log_in(page, stack, "reader")
    frame = registry_frame(page, stack)
    expect(frame.locator(f"section[data-group='{GROUP}'] tr.version")).to_have_count(2)
    expect(frame.locator("button.approve")).to_have_count(0)
    # and the API refuses the viewer's POST made from the page itself
    status = page.frames[-1].evaluate(
        """async (url) => (await fetch(url, {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify({status: "Rejected"})})).status""",
        f"{stack.base_url}/model-registry/api/groups/{GROUP}/versions/1/approval",
    )
    assert status == 403


def test_the_dag_run_link_opens_that_run_in_the_airflow_ui(page: Any, stack: Stack) -> None:
    log_in(page, stack, "admin")
    frame = registry_frame(page, stack)
    version_row(frame, 1).locator("a.dag-run").click()
    run_id = stack.summaries[0]["run_id"]
    page.wait_for_url(lambda url: f"/dags/{DAG_ID}/runs/" in url)
    assert urllib.request.unquote(page.url).endswith(f"/dags/{DAG_ID}/runs/{run_id}")


def test_run_view_shows_the_runs_summary_and_opens_its_report(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    log_in(page, stack, "admin")
    summary = stack.summaries[1]
    run = urllib.request.quote(summary["run_id"], safe="")
    # the plugin's tab on the DAG run's page (external view, destination dag_run)
    page.goto(f"{stack.base_url}/dags/{DAG_ID}/runs/{run}")
    page.get_by_role("link", name="Model report").click()
    page.wait_for_url(lambda url: url.endswith("/plugin/model-report"))
    frame = page.frame_locator("iframe[title='Model report']")
    expect(frame.locator(".decision")).to_have_text("registered")
    expect(frame.locator("body")).to_contain_text(summary["model_package_arn"])
    expect(frame.locator("body")).to_contain_text(f"{summary['accuracy']:.4f}")
    expect(frame.locator(".champion-comparison")).to_contain_text(
        f"accuracy {summary['champion']['accuracy']:.4f}"
    )
    # report.html opens in place of the summary, with its charts
    frame.locator("a.report").click()
    expect(frame.locator("img[src='feature_importance.png']")).to_be_visible()
    expect(frame.locator("body")).to_contain_text(summary["run_id"])
    report = next(f for f in page.frames if f.url.endswith("/report/report.html"))
    # every chart arrives through the plugin (the report's relative links) and decodes
    report.wait_for_function(
        "() => document.images.length === 5"
        " && [...document.images].every(image => image.complete && image.naturalWidth > 100)"
    )
