"""The model-registry plugin's API and pages (plugins/model_registry/app.py) through FastAPI's
TestClient, against the emulator's registry, with Airflow's simple auth manager's real JWTs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.plugins.conftest import Registered, bearer

APPROVAL = "/api/groups/{group}/versions/{version}/approval"


def post_approval(
    client: Any, registered: Registered, version: int, body: dict[str, Any], token: str
) -> Any:
    """POST ``body`` as the approval of ``version`` in the registered group, as ``token``'s user."""
    url = APPROVAL.format(group=registered.group, version=version)
    return client.post(url, json=body, headers=bearer(token))


def group_of(body: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(group for group in body if group["name"] == name)


def test_no_credential_is_refused(client: Any, registered: Registered) -> None:
    assert client.get("/").status_code == 401
    assert client.get("/api/groups").status_code == 401
    answer = client.post(
        APPROVAL.format(group=registered.group, version=2), json={"status": "Approved"}
    )
    assert answer.status_code == 401


def test_an_invalid_token_is_refused(client: Any) -> None:
    assert client.get("/api/groups", headers=bearer("not-a-jwt")).status_code == 403


def test_versions_with_metrics_run_training_job_and_champion(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    body = client.get("/api/groups", headers=bearer(token_for("reader"))).json()
    group = group_of(body, registered.group)
    first, second = sorted(group["versions"], key=lambda v: v["version"])
    assert [first["version"], second["version"]] == [1, 2]
    assert group["champion"] == registered.arns[0]
    assert (first["is_champion"], second["is_champion"]) == (True, False)
    assert (first["approval_status"], second["approval_status"]) == (
        "Approved",
        "PendingManualApproval",
    )
    # from each version's ModelMetrics evaluation.json
    assert (first["accuracy"], first["roc_auc"]) == (0.8712, 0.9251)
    assert (second["accuracy"], second["roc_auc"]) == (0.8734, 0.9266)
    assert second["run_id"] == registered.runs[1][1]
    assert second["training_job"].startswith("train-20261102-")
    assert second["created"]
    # the champion measured on run 2's test set, from its evaluation.json
    assert second["champion"] == {
        "model_package_arn": registered.arns[0],
        "accuracy": 0.8701,
        "roc_auc": 0.924,
        "not_compared": None,
    }
    assert first["champion"] is None
    # the run in the Airflow UI, the run view and the report
    assert second["dag_run_url"] == (
        "/dags/adult_income_pipeline/runs/scheduled__2026-11-02T00%3A00%3A00%2B00%3A00"
    )
    assert second["report_url"].endswith("/report/report.html")
    assert second["endpoints"] == []
    # a viewer reads but may not change status
    assert not second["can_change_status"]


def test_editor_approves_with_a_note_and_the_registry_says_so(
    client: Any, registered: Registered, token_for: Callable[[str], str], aws: Any
) -> None:
    answer = post_approval(
        client,
        registered,
        2,
        {"status": "Approved", "note": "  better than v1 on the same test set  "},
        token_for("editor"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["approval_status"] == "Approved"
    package = aws("sagemaker").describe_model_package(ModelPackageName=registered.arns[1])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "better than v1 on the same test set"
    # the newest Approved version is now the champion
    versions = client.get(
        f"/api/groups/{registered.group}/versions", headers=bearer(token_for("editor"))
    ).json()
    assert [v["version"] for v in versions if v["is_champion"]] == [2]
    assert all(v["can_change_status"] for v in versions)


def test_editor_rejects(
    client: Any, registered: Registered, token_for: Callable[[str], str], aws: Any
) -> None:
    answer = post_approval(
        client, registered, 1, {"status": "Rejected", "note": "drifted"}, token_for("editor")
    )
    assert answer.status_code == 200, answer.text
    package = aws("sagemaker").describe_model_package(ModelPackageName=registered.arns[0])
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Rejected",
        "drifted",
    )
    versions = client.get(
        f"/api/groups/{registered.group}/versions", headers=bearer(token_for("reader"))
    ).json()
    assert not any(v["is_champion"] for v in versions)


def test_a_viewer_may_not_change_status(
    client: Any, registered: Registered, token_for: Callable[[str], str], aws: Any
) -> None:
    answer = post_approval(client, registered, 2, {"status": "Approved"}, token_for("reader"))
    assert answer.status_code == 403
    assert "adult_income_pipeline" in answer.json()["detail"]
    package = aws("sagemaker").describe_model_package(ModelPackageName=registered.arns[1])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "PendingManualApproval"},
        {"status": "approved"},
        {"status": "Approved", "note": "x" * 1025},
    ],
)
def test_only_approved_or_rejected_with_a_bounded_note(
    client: Any, registered: Registered, token_for: Callable[[str], str], body: dict
) -> None:
    answer = post_approval(client, registered, 2, body, token_for("editor"))
    assert answer.status_code == 422


def test_a_form_post_or_another_origin_is_refused(
    client: Any, registered: Registered, token_for: Callable[[str], str], aws: Any
) -> None:
    url = APPROVAL.format(group=registered.group, version=2)
    headers = bearer(token_for("editor"))
    # what a cross-site <form> can send without a preflight
    form = client.post(url, data={"status": "Approved"}, headers=headers)
    assert form.status_code == 415
    foreign = client.post(
        url, json={"status": "Approved"}, headers={**headers, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    same = client.post(
        url, json={"status": "Approved"}, headers={**headers, "Origin": "http://testserver"}
    )
    assert same.status_code == 200
    assert client.get(url, headers=headers).status_code == 405  # no GET changes state


def test_unknown_version_or_group_is_404(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    headers = bearer(token_for("editor"))
    answer = client.post(
        APPROVAL.format(group=registered.group, version=9),
        json={"status": "Approved"},
        headers=headers,
    )
    assert answer.status_code == 404
    assert client.get("/api/groups/no-such-group/versions", headers=headers).status_code == 404


def test_versions_of_dags_the_user_may_not_read_are_hidden(
    client: Any,
    registered: Registered,
    token_for: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An auth manager that gives no access to adult_income_pipeline: its versions vanish from
    the lists and cannot be approved (404: the page does not tell they exist)."""
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    allowed = manager.is_authorized_dag

    def is_authorized_dag(
        *, method: str, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if details is not None and details.id == "adult_income_pipeline":
            return False
        return allowed(method=method, user=user, access_entity=access_entity, details=details)

    monkeypatch.setattr(manager, "is_authorized_dag", is_authorized_dag)
    headers = bearer(token_for("admin"))
    versions = client.get(f"/api/groups/{registered.group}/versions", headers=headers).json()
    assert versions == []
    answer = client.post(
        APPROVAL.format(group=registered.group, version=2),
        json={"status": "Approved"},
        headers=headers,
    )
    assert answer.status_code == 404
    dag_id, run_id = registered.runs[1]
    assert client.get(f"/runs/{dag_id}/{run_id}", headers=headers).status_code == 403


def test_page_lists_versions_and_escapes_what_it_shows(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    client.post(
        APPROVAL.format(group=registered.group, version=1),
        json={"status": "Approved", "note": "<script>alert(1)</script>"},
        headers=bearer(token_for("editor")),
    )
    page = client.get("/", headers=bearer(token_for("editor")))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    section = html[html.index(f'data-group="{registered.group}"') :]
    section = section[: section.index("</section>")]
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert len(re.findall(r'<tr class="version"', section)) == 2
    assert "0.8734" in section and "0.9266" in section
    assert "Champion: <strong>version 1</strong>" in section
    assert 'class="champion">champion</span>' in section
    # run 2's champion comparison: v1 on run 2's test set, and the difference
    assert "v1: accuracy 0.8701, AUC 0.9240" in section and "(+0.0033)" in section
    assert section.count('class="approve"') == 2


def test_a_viewers_page_has_no_approval_form(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    html = client.get("/", headers=bearer(token_for("reader"))).text
    section = html[html.index(f'data-group="{registered.group}"') :]
    section = section[: section.index("</section>")]
    assert 'class="approve"' not in section
    assert "read only: changing it needs edit access" in section


def test_run_view_shows_summary_champion_and_report(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    dag_id, run_id = registered.runs[1]
    headers = bearer(token_for("reader"))
    page = client.get(f"/runs/{dag_id}/{run_id}", headers=headers)
    assert page.status_code == 200
    assert 'class="decision">registered' in page.text
    assert "accuracy 0.8701, ROC AUC 0.9240" in page.text
    assert "/report/report.html" in page.text
    summary = client.get(f"/api/runs/{dag_id}/{run_id}", headers=headers).json()
    assert summary["model_package_arn"] == registered.arns[1]
    report = client.get(f"/runs/{dag_id}/{run_id}/report/report.html", headers=headers)
    assert report.status_code == 200
    assert f"Report of {run_id}" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    chart = client.get(f"/runs/{dag_id}/{run_id}/report/roc.png", headers=headers)
    assert chart.headers["content-type"] == "image/png"


def test_run_view_serves_only_the_reports_files(
    client: Any, registered: Registered, token_for: Callable[[str], str]
) -> None:
    dag_id, run_id = registered.runs[1]
    headers = bearer(token_for("reader"))
    for name in ("summary.json", "..%2Fsummary.json", "calibration.png"):
        answer = client.get(f"/runs/{dag_id}/{run_id}/report/{name}", headers=headers)
        assert answer.status_code == 404, name
    assert client.get(f"/runs/{dag_id}/no-such-run", headers=headers).status_code == 200
    assert client.get(f"/api/runs/{dag_id}/no-such-run", headers=headers).status_code == 404
    assert client.get(f"/runs/{dag_id}/{run_id}").status_code == 401


def test_make_airflows_loopback_ui_where_everyone_is_admin_needs_no_login(
    aws: Any,
    location: Any,
    registered: Registered,
    token_for: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make airflow` on loopback turns simple_auth_manager_all_admins on: the auth manager's
    middleware (the API server's, which wraps every mounted app) makes each request admin."""
    from airflow.api_fastapi.auth.managers.simple.middleware import SimpleAllAdminMiddleware
    from fastapi.testclient import TestClient
    from model_registry import registry
    from model_registry.app import create_app

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    app = create_app(lambda: registry.Registry(aws("sagemaker"), aws("s3"), location))
    app.add_middleware(SimpleAllAdminMiddleware)
    versions = TestClient(app).get(f"/api/groups/{registered.group}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert all(v["can_change_status"] for v in versions)


def test_a_version_the_native_pipeline_registered_names_its_execution(
    client: Any, registered: Registered, token_for: Callable[[str], str], aws: Any
) -> None:
    """The native SageMaker Pipeline records its pipeline and execution, not a DAG: the row
    names them, and with no DAG to ask about, changing it needs edit access to every DAG (the
    simple auth manager's User role has it; a Viewer has not)."""
    from include.adult_income import sagemaker_requests
    from tests.conftest import XGBOOST_IMAGE

    request = sagemaker_requests.model_package_request(
        group_name=registered.group,
        image_uri=XGBOOST_IMAGE,
        model_data_url=f"s3://{registered.bucket}/native/model.tar.gz",
        code_uri=f"s3://{registered.bucket}/native/inference.tar.gz",
        evaluation_json_uri=f"s3://{registered.bucket}/native/evaluation.json",
        approval_status="PendingManualApproval",
        metadata={"pipeline": "adult-income-native", "execution_id": "exec0123"},
        description="XGBoost on UCI Adult, adult-income-native execution exec0123",
    )
    aws("sagemaker").create_model_package(**request)
    editor = client.get(
        f"/api/groups/{registered.group}/versions", headers=bearer(token_for("editor"))
    ).json()
    native = next(v for v in editor if v["version"] == 3)
    assert (native["pipeline"], native["execution_id"]) == ("adult-income-native", "exec0123")
    assert native["can_change_status"] and "dag_run_url" not in native
    reader = client.get(
        f"/api/groups/{registered.group}/versions", headers=bearer(token_for("reader"))
    ).json()
    assert not next(v for v in reader if v["version"] == 3)["can_change_status"]
    page = client.get("/", headers=bearer(token_for("admin"))).text
    assert "pipeline adult-income-native, execution exec0123" in page
