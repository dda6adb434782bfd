"""The pipeline operated from Airflow's UI as a person does: headless Chromium (Debian's, driven
by Playwright) on Airflow's API server with the project's plugin, against the emulator.

Three runs of the DAG with ``human_approval`` wait in ``awaiting_input`` until a person answers
in the UI's Required Actions: an approval deploys version 1 (the champion), a rejection deploys
nothing, and no answer in time leaves version 3 pending. The model-registry page then shows the
three versions those runs made, with their metrics and statuses, version 1 as the champion
each later run was measured against; a person approves version 3 there, a viewer cannot.

The tests of this module run in order on one local account: the registry's tests read the
versions the approval tests made (each DAG run is asserted from both sides, and made once).

The runs go as `make airflow`'s would, but under `airflow dags test` (tools/dag_test) in the
background: Airflow 3.3's test loop keeps a run alive while a Human-in-the-loop task awaits
input, until a response recorded through the API server on the same metadata DB resumes it.

Set HUMAN_APPROVAL_SCREENSHOT=docs/human-approval.png or
MODEL_REGISTRY_SCREENSHOT=docs/model-registry.png to refresh the README's screenshots.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from include.adult_income import tasks
from tests.support.airflow_ui import CHROMIUM, PASSWORDS, api_server, chromium, log_in
from tests.support.offline_account import OfflineAccount
from tests.support.processes import stop_session
from tools.offline import OFFLINE_BUCKET, OFFLINE_PREFIX, aws_client, seed_input

pytestmark = pytest.mark.e2e

DAG_ID = "adult_income_pipeline"
GROUP = "adult-income-xgboost"
APPROVAL_TASK = tasks.APPROVAL_TASK
# How long a DAG run may take to reach the question, and then to finish, on a loaded machine.
RUN_TIMEOUT = 900.0
SWEEP = (
    "from airflow.jobs.job import Job\n"
    "from airflow.jobs.scheduler_job_runner import SchedulerJobRunner\n"
    "SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()\n"
)
# What a minute without an answer does to a question: its deadline (the task instance's
# trigger_timeout, set from approval_timeout_minutes) passes. Moving the deadline instead of
# waiting the minute out; the script prints the seconds that were left.
EXPIRE = (
    "import datetime, sys\n"
    "from airflow.models.taskinstance import TaskInstance\n"
    "from airflow.utils import timezone\n"
    "from airflow.utils.session import create_session\n"
    "with create_session() as session:\n"
    "    run_id, task_id = sys.argv[1:3]\n"
    "    ti = session.query(TaskInstance).filter_by(run_id=run_id, task_id=task_id).one()\n"
    "    now = timezone.utcnow()\n"
    "    print((ti.trigger_timeout - now).total_seconds())\n"
    "    ti.trigger_timeout = now - datetime.timedelta(seconds=1)\n"
)


@dataclass
class Environment:
    state_dir: Path
    emulator_url: str
    base_url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def environment(account: OfflineAccount) -> Iterator[Environment]:
    """The emulator and Airflow's API server on the metadata DB the DAG runs use."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-tools` installs Debian's chromium")
    with api_server(account.state_dir, account.emulator_url) as base_url:
        yield Environment(account.state_dir, account.emulator_url, base_url, account.environment())


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module."""
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh page, logged out, for each test."""
    browser.clear_cookies()
    page = browser.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.close()


@dataclass
class BackgroundRun:
    run_id: str
    date: str
    process: subprocess.Popen
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@contextlib.contextmanager
def run_in_background(
    environment: Environment, date: str, conf: dict[str, Any]
) -> Iterator[BackgroundRun]:
    """A DAG run, as `make run` starts it, left running; stopped on the way out if still alive."""
    seed_input(environment.emulator_url, date)
    run_after = dt.datetime.now(dt.UTC).replace(microsecond=0)
    log = environment.state_dir / f"dag-run-{date}.log"
    command = [sys.executable, "-m", "tools.dag_test", DAG_ID, date]
    command += ["--run-after", run_after.isoformat(), "--conf", json.dumps(conf)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = BackgroundRun(f"manual__{run_after.isoformat()}", date, process, log)
    try:
        yield run
    finally:
        if process.poll() is None:
            stop_session(process)


def api_token(environment: Environment, user: str = "admin") -> str:
    request = urllib.request.Request(
        f"{environment.base_url}/auth/token",
        data=json.dumps({"username": user, "password": PASSWORDS[user]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["access_token"]


def api_get(environment: Environment, path: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{environment.base_url}/api/v2{path}",
        headers={"Authorization": f"Bearer {api_token(environment)}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def task_state(environment: Environment, run: BackgroundRun, task_id: str) -> str | None:
    run_id = urllib.parse.quote(run.run_id, safe="")
    try:
        found = api_get(environment, f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the run is not in the DB yet
            return None
        raise
    return found["state"]


def wait_until_awaiting_input(environment: Environment, run: BackgroundRun) -> None:
    """Until the approval task asks its question; fails at once when the run ends first."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            raise AssertionError(f"the run ended before asking:\n{run.log_tail()}")
        if task_state(environment, run, APPROVAL_TASK) == "awaiting_input":
            return
        time.sleep(2)
    raise AssertionError(f"{APPROVAL_TASK} never awaited input:\n{run.log_tail()}")


def wait_until_finished(run: BackgroundRun) -> int:
    try:
        return run.process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the run did not finish after the answer:\n{run.log_tail()}") from exc


def run_summaries(environment: Environment) -> list[dict[str, Any]]:
    """Every summary.json the account's runs wrote, as their summary tasks wrote them."""
    s3 = aws_client("s3", environment.emulator_url)
    paginator = s3.get_paginator("list_objects_v2")
    summaries = []
    for listing in paginator.paginate(Bucket=OFFLINE_BUCKET, Prefix=f"{OFFLINE_PREFIX}/runs/"):
        for item in listing.get("Contents", []):
            if item["Key"].endswith("/summary.json"):
                body = s3.get_object(Bucket=OFFLINE_BUCKET, Key=item["Key"])["Body"].read()
                summaries.append(json.loads(body))
    return summaries


def summary_of(environment: Environment, run: BackgroundRun) -> dict[str, Any]:
    """summary.json as the run's summary task wrote it."""
    for summary in run_summaries(environment):
        if summary["run_id"] == run.run_id:
            return summary
    raise AssertionError(f"no summary.json for {run.run_id}:\n{run.log_tail()}")


def required_action(page: Any, environment: Environment, run: BackgroundRun) -> Any:
    """The task instance's Required Action tab, as the operator's link to the UI opens it."""
    run_id = urllib.parse.quote(run.run_id, safe="")
    page.goto(
        f"{environment.base_url}/dags/{DAG_ID}/runs/{run_id}/tasks/{APPROVAL_TASK}/required_actions"
    )
    return page


def open_question(page: Any, environment: Environment, run: BackgroundRun) -> Any:
    """Logged in as the admin, on the run's Required Action tab of the approval task."""
    log_in(page, environment.base_url, "admin")
    return required_action(page, environment, run)


def newest_version(environment: Environment) -> dict[str, Any]:
    """The group's newest version: the one the run in progress registered (runs go one by one)."""
    sagemaker = aws_client("sagemaker", environment.emulator_url)
    newest = sagemaker.list_model_packages(
        ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )["ModelPackageSummaryList"][0]
    return sagemaker.describe_model_package(ModelPackageName=newest["ModelPackageArn"])


def sweep_timed_out_questions(environment: Environment) -> None:
    """The scheduler's own sweep over questions past their deadline (Airflow 3.3 enforces
    ``response_timeout`` there, not in the task), run once against the runs' metadata DB:
    `airflow dags test` has no scheduler to run it."""
    subprocess.run(
        [sys.executable, "-c", SWEEP],
        env=environment.env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def expire_question(environment: Environment, run: BackgroundRun) -> float:
    """Let the approval task's deadline pass now; the seconds it had left."""
    done = subprocess.run(
        [sys.executable, "-c", EXPIRE, run.run_id, APPROVAL_TASK],
        env=environment.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def test_an_approval_given_in_the_ui_lets_the_deploy_run(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    # Smaller trees and fewer rounds than the defaults: a champion the later runs beat.
    conf = {"human_approval": True, "deploy": True, "num_round": 20, "max_depth": 3}
    with run_in_background(environment, "2026-11-10", conf) as run:
        wait_until_awaiting_input(environment, run)
        # asked, and waiting: registered pending, nothing deployed yet
        version = newest_version(environment)
        assert version["ModelApprovalStatus"] == "PendingManualApproval"
        number = version["ModelPackageVersion"]
        open_question(page, environment, run)
        # the task's Required Action tab, with the question the operator wrote
        expect(page.locator("a[title='Required Action (1)']")).to_be_visible()
        question = page.locator("body")
        expect(question).to_contain_text(
            f"Approve version {number} of model package group {GROUP}?"
        )
        # the prompt's Markdown is rendered: a table of this version beside the champion
        table = question.locator("table")
        expect(table.locator("tr", has_text="accuracy")).to_contain_text("n/a")
        expect(table.locator("tr", has_text="ROC AUC")).to_have_count(1)
        expect(question).to_contain_text("no approved version yet")
        # the form asks for the note only, and does not insist on it
        expect(page.locator("input[name^=element_]")).to_have_count(1)
        note = page.locator("input[name=element_note]")
        expect(note).not_to_have_attribute("required", "")
        note.fill("read the report: good enough to serve")
        page.get_by_test_id("hitl-option-Approve").click()
        assert wait_until_finished(run) == 0, run.log_tail()

    summary = summary_of(environment, run)
    package = aws_client("sagemaker", environment.emulator_url).describe_model_package(
        ModelPackageName=version["ModelPackageArn"]
    )
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == (
        "approved by admin in Airflow: read the report: good enough to serve"
    )
    assert summary["approval"] == {
        "decision": "approved",
        "model_package_arn": package["ModelPackageArn"],
        "by": "admin",
        "note": "read the report: good enough to serve",
    }
    endpoint = aws_client("sagemaker", environment.emulator_url).describe_endpoint(
        EndpointName=summary["endpoint"]
    )
    assert endpoint["EndpointStatus"] == "InService"
    # Airflow's own record of the answer, and the UI shows it received
    detail = hitl_detail(environment, run)
    assert detail["chosen_options"] == ["Approve"]
    assert detail["responded_by_user"]["name"] == "admin"
    page.reload()
    expect(page.locator("body")).to_contain_text("Response received")


def champion_of(environment: Environment, run: BackgroundRun) -> dict[str, Any] | None:
    """The champion the run's accuracy gate compared with (its XCom), if any."""
    run_id = urllib.parse.quote(run.run_id, safe="")
    entry = api_get(
        environment,
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{tasks.GATE_TASK}/xcomEntries/gate",
    )
    value = entry["value"]
    return (json.loads(value) if isinstance(value, str) else value)["champion"]


def hitl_detail(environment: Environment, run: BackgroundRun) -> dict[str, Any]:
    """The question and its answer as Airflow's HITL API holds them."""
    run_id = urllib.parse.quote(run.run_id, safe="")
    return api_get(
        environment, f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{APPROVAL_TASK}/-1/hitlDetails"
    )


def task_states(environment: Environment, run: BackgroundRun, *task_ids: str) -> dict[str, Any]:
    return {task_id: task_state(environment, run, task_id) for task_id in task_ids}


def test_a_rejection_given_in_the_ui_deploys_nothing(page: Any, environment: Environment) -> None:
    from playwright.sync_api import expect

    sagemaker = aws_client("sagemaker", environment.emulator_url)
    conf = {"human_approval": True, "deploy": True}
    with run_in_background(environment, "2026-11-11", conf) as run:
        wait_until_awaiting_input(environment, run)
        version = newest_version(environment)
        number = version["ModelPackageVersion"]
        open_question(page, environment, run)
        question = page.locator("body")
        expect(question).to_contain_text(f"Approve version {number} of model package group")
        champion = champion_of(environment, run)
        accuracy = page.locator("table tr", has_text="accuracy").locator("td")
        expect(accuracy).to_have_count(3)
        if champion is None:  # this test run alone
            expect(accuracy.nth(2)).to_have_text("n/a")
        else:  # after the approval test: its version, scored on this run's test set
            expect(question).to_contain_text(champion["model_package_arn"])
            expect(accuracy.nth(2)).to_have_text(f"{champion['accuracy']:.4f}")
        if os.environ.get("HUMAN_APPROVAL_SCREENSHOT"):
            image = page.screenshot(clip={"x": 0, "y": 0, "width": 1600, "height": 820})
            Path(os.environ["HUMAN_APPROVAL_SCREENSHOT"]).write_bytes(image)
        page.locator("input[name=element_note]").fill("keep version 1 until the data review")
        page.get_by_test_id("hitl-option-Reject").click()
        assert wait_until_finished(run) == 0, run.log_tail()
        states = task_states(environment, run, tasks.DEPLOY_GATE_TASK, tasks.DEPLOY_TASK)

    package = sagemaker.describe_model_package(ModelPackageName=version["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == (
        "rejected by admin in Airflow: keep version 1 until the data review"
    )
    assert states == {tasks.DEPLOY_GATE_TASK: "skipped", tasks.DEPLOY_TASK: "skipped"}
    summary = summary_of(environment, run)
    assert summary["approval"]["decision"] == "rejected"
    assert summary["endpoint"] is None


def test_no_answer_in_time_leaves_the_version_pending_and_deploys_nothing(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    sagemaker = aws_client("sagemaker", environment.emulator_url)
    conf = {"human_approval": True, "deploy": True, "approval_timeout_minutes": 1}
    with run_in_background(environment, "2026-11-12", conf) as run:
        wait_until_awaiting_input(environment, run)
        version = newest_version(environment)
        # Nobody answers: the scheduler's sweep, run as the scheduler runs it (every few
        # seconds), resumes the task with a timeout once its deadline has passed, not before.
        sweep_timed_out_questions(environment)
        assert task_state(environment, run, APPROVAL_TASK) == "awaiting_input"
        # The deadline is approval_timeout_minutes after the question was asked.
        assert 0 < expire_question(environment, run) <= 60
        deadline = time.monotonic() + RUN_TIMEOUT
        while task_state(environment, run, APPROVAL_TASK) == "awaiting_input":
            assert time.monotonic() < deadline, run.log_tail()
            sweep_timed_out_questions(environment)
            time.sleep(5)
        assert wait_until_finished(run) == 0, run.log_tail()
        states = task_states(environment, run, tasks.DEPLOY_GATE_TASK, tasks.DEPLOY_TASK)

    package = sagemaker.describe_model_package(ModelPackageName=version["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in package
    assert states == {tasks.DEPLOY_GATE_TASK: "skipped", tasks.DEPLOY_TASK: "skipped"}
    summary = summary_of(environment, run)
    assert summary["approval"] == {
        "decision": "timed_out",
        "model_package_arn": version["ModelPackageArn"],
    }
    # nobody answered, and Airflow records none: no default stands in for a person's Reject
    detail = hitl_detail(environment, run)
    assert detail["response_received"] is False
    assert not detail["chosen_options"] and detail["responded_by_user"] is None
    # the UI shows the question closed, without a response
    open_question(page, environment, run)
    expect(page.locator("body")).to_contain_text(
        f"Approve version {version['ModelPackageVersion']}"
    )
    expect(page.get_by_test_id("hitl-option-Approve")).to_be_disabled()
    expect(page.locator("body")).not_to_contain_text("Response received")


# --- the model-registry page (plugins/model_registry) over the versions the runs above made ----


def registered_runs(environment: Environment) -> list[dict[str, Any]]:
    """The summaries of the runs that registered a version, in version order: the approved,
    the rejected and the unanswered run of the tests above."""
    summaries = run_summaries(environment)
    registered = [summary for summary in summaries if summary["model_package_arn"]]
    registered.sort(key=lambda summary: int(summary["model_package_arn"].rsplit("/", 1)[1]))
    assert [(summary["approval"] or {}).get("decision") for summary in registered] == [
        "approved",
        "rejected",
        "timed_out",
    ], "the registry's tests read the versions the approval tests make: run the whole module"
    return registered


def registry_frame(page: Any, environment: Environment) -> Any:
    page.goto(f"{environment.base_url}/plugin/model-registry")
    return page.frame_locator("iframe[title='Model registry']")


def version_row(frame: Any, version: int) -> Any:
    return frame.locator(f"section[data-group='{GROUP}'] tr.version[data-version='{version}']")


def roc_auc(environment: Environment, summary: dict[str, Any]) -> str:
    """The ROC AUC the run's evaluation.json holds (summary.json carries only accuracy)."""
    bucket, _, key = summary["evaluation_uri"].removeprefix("s3://").partition("/")
    s3 = aws_client("s3", environment.emulator_url)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return f"{json.loads(body)['metrics']['roc_auc']['value']:.4f}"


def test_the_registry_page_lists_the_versions_the_runs_made_with_their_metrics(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    runs = registered_runs(environment)
    log_in(page, environment.base_url, "admin")
    page.goto(environment.base_url)
    # the navigation has it (Browse menu)
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Model registry").click()
    frame = page.frame_locator("iframe[title='Model registry']")
    expect(frame.locator(f"section[data-group='{GROUP}'] tr.version")).to_have_count(3)
    for version, summary in enumerate(runs, start=1):
        row = version_row(frame, version)
        assert summary["model_package_arn"].endswith(f"/{GROUP}/{version}")
        expect(row.locator("td.accuracy")).to_have_text(f"{summary['accuracy']:.4f}")
        expect(row.locator("td.roc-auc")).to_have_text(roc_auc(environment, summary))
        expect(row.locator("a.dag-run")).to_have_text(summary["run_id"])
        expect(row).to_contain_text(summary["training_job"])
    approved, rejected, pending = (version_row(frame, version) for version in (1, 2, 3))
    expect(approved.locator(".status")).to_have_text("Approved")
    expect(approved.locator(".champion")).to_have_text("champion")
    expect(approved).to_contain_text(runs[0]["endpoint"])
    expect(rejected.locator(".status")).to_have_text("Rejected")
    expect(pending.locator(".status")).to_have_text("PendingManualApproval")
    for row in (rejected, pending):
        expect(row.locator(".champion")).to_have_count(0)
    # the unanswered run scored the champion (version 1) on its own test set
    champion = runs[2]["champion"]
    assert champion["model_package_arn"] == runs[0]["model_package_arn"]
    expect(pending.locator("td.champion-comparison")).to_contain_text(
        f"v1: accuracy {champion['accuracy']:.4f}, AUC {champion['roc_auc']:.4f}"
    )
    # the UI's navigation and the page's content (it ends well above the window's bottom)
    image = page.screenshot(clip={"x": 0, "y": 0, "width": 1600, "height": 460})
    assert image.startswith(b"\x89PNG")
    if os.environ.get("MODEL_REGISTRY_SCREENSHOT"):
        Path(os.environ["MODEL_REGISTRY_SCREENSHOT"]).write_bytes(image)


def test_approving_from_the_registry_page_makes_the_version_the_champion(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    runs = registered_runs(environment)
    log_in(page, environment.base_url, "admin")
    frame = registry_frame(page, environment)
    row = version_row(frame, 3)
    row.locator("input[name=note]").fill("reviewed the report: better than version 1")
    row.locator("button.approve").click()
    # the page reloads with the registry's answer
    expect(version_row(frame, 3).locator(".status")).to_have_text("Approved")
    expect(version_row(frame, 3).locator(".champion")).to_have_text("champion")
    expect(version_row(frame, 1).locator(".champion")).to_have_count(0)
    package = aws_client("sagemaker", environment.emulator_url).describe_model_package(
        ModelPackageName=runs[2]["model_package_arn"]
    )
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "reviewed the report: better than version 1"


def test_a_viewer_reads_the_registry_page_but_cannot_approve(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    log_in(page, environment.base_url, "reader")
    frame = registry_frame(page, environment)
    expect(frame.locator(f"section[data-group='{GROUP}'] tr.version")).to_have_count(3)
    expect(frame.locator("button.approve")).to_have_count(0)
    # and the API refuses the viewer's POST made from the page itself
    status = page.frames[-1].evaluate(
        """async (url) => (await fetch(url, {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify({status: "Rejected"})})).status""",
        f"{environment.base_url}/model-registry/api/groups/{GROUP}/versions/1/approval",
    )
    assert status == 403


def test_the_registry_pages_dag_run_link_opens_that_run_in_the_airflow_ui(
    page: Any, environment: Environment
) -> None:
    run_id = registered_runs(environment)[0]["run_id"]
    log_in(page, environment.base_url, "admin")
    frame = registry_frame(page, environment)
    version_row(frame, 1).locator("a.dag-run").click()
    page.wait_for_url(lambda url: f"/dags/{DAG_ID}/runs/" in url)
    assert urllib.request.unquote(page.url).endswith(f"/dags/{DAG_ID}/runs/{run_id}")


def test_run_view_shows_the_runs_summary_and_opens_its_report(
    page: Any, environment: Environment
) -> None:
    from playwright.sync_api import expect

    summary = registered_runs(environment)[2]
    log_in(page, environment.base_url, "admin")
    run = urllib.request.quote(summary["run_id"], safe="")
    # the plugin's tab on the DAG run's page (external view, destination dag_run)
    page.goto(f"{environment.base_url}/dags/{DAG_ID}/runs/{run}")
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
