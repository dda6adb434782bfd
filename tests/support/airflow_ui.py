"""Airflow's UI for tests that use it as a person does: the API server (UI, plugins, login) on a
local account's metadata DB, and Debian's headless Chromium driven by Playwright.

Used by tests/e2e/test_airflow_ui_browser.py; no browser build of Playwright's own is involved.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.processes import stop_session
from tools.offline import offline_environment

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
# The simple auth manager's users the tests log in as, and their roles.
PASSWORDS = {"admin": "admin-password", "reader": "reader-password"}
ROLES = {"admin": "admin", "reader": "viewer"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    and a viewer whose passwords the test knows. Yields its base URL."""
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


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile: a Playwright browser context."""
    from playwright.sync_api import expect, sync_playwright

    # Two cores shared with DAG runs and an API server: allow the page time to answer.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 900},
        )
        yield context
        context.close()


def log_in(page: Any, base_url: str, user: str) -> None:
    """Airflow's own login page (the simple auth manager's): the plugin has none of its own."""
    page.goto(f"{base_url}/auth/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
