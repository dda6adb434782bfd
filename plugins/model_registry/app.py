"""The model-registry page's FastAPI app, mounted by Airflow's API server at ``MOUNT``.

Who may do what is Airflow's auth manager's decision, asked the way Airflow's own API routes
ask it: the caller is ``GetUserDep`` (the UI's JWT cookie or a bearer token: no second login),
and access is ``requires_access_dag`` on the DAG's runs of the DAG that made a version
(CustomerMetadataProperties.dag_id). Reading needs GET on those runs; approving or rejecting
needs PUT, what editing a DAG run needs. A version the caller may not read is left out of the
lists and answers 404, so the page never tells what it would not show.

The approval is a state change: a POST whose body is JSON. A cross-site form cannot send that
without a CORS preflight that this app never grants, the UI's cookie is SameSite=Lax, and a
POST whose Origin is not this server's is refused: together they keep another site from
approving a model in a logged-in user's name. Every page is rendered with autoescaping.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.configuration import conf
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from model_registry import registry as reg

MOUNT = "/model-registry"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
# report.html has no script and only its own charts; the policy keeps it so whatever a run wrote.
REPORT_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
RegistryFactory = Callable[[], reg.Registry]


# Building two boto3 clients costs about a second of CPU (their service models): a location's
# clients are kept this long, so a changed connection or Variable takes effect within it,
# without restarting the API server.
CLIENTS_TTL_SECONDS = 300.0
_clients: dict[reg.Location, tuple[float, tuple[Any, Any]]] = {}
_clients_lock = threading.Lock()


def default_registry() -> reg.Registry:
    """A registry on the DAG's own AWS connection and settings."""
    location = reg.location_from_settings()
    with _clients_lock:
        made, clients = _clients.get(location, (0.0, None))
        if clients is None or time.monotonic() - made > CLIENTS_TTL_SECONDS:
            clients = reg.clients_from_connection(location)
            _clients[location] = (time.monotonic(), clients)
    return reg.Registry(*clients, location)


class ApprovalBody(BaseModel):
    status: Literal["Approved", "Rejected"]
    note: str = Field(default="", max_length=reg.MAX_NOTE)


def may_access(request: Request, user: BaseUser, method: str, dag_id: str | None) -> bool:
    """Whether the auth manager lets ``user`` do ``method`` on ``dag_id``'s runs.

    With a dag_id this is Airflow's own ``requires_access_dag`` check. A version with no
    dag_id (registered outside the DAG) belongs to no DAG: it needs that access on every DAG,
    which is what the auth managers read from DagDetails without an id. The answer is kept
    for the request: a page of many versions of one DAG asks once.
    """
    answers: dict[tuple[str, str | None], bool] | None = getattr(
        request.state, "model_registry_access", None
    )
    if answers is None:
        answers = request.state.model_registry_access = {}
    if (method, dag_id) not in answers:
        answers[method, dag_id] = ask_auth_manager(request, user, method, dag_id)
    return answers[method, dag_id]


def ask_auth_manager(request: Request, user: BaseUser, method: str, dag_id: str | None) -> bool:
    if dag_id:
        try:
            requires_access_dag(method, DagAccessEntity.RUN, param_dag_id=dag_id)(request, user)
        except HTTPException:
            return False
        return True
    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=None), user=user
    )


def same_origin(request: Request) -> None:
    """Refuse a state change whose Origin (when the browser sends one) is another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    # This server as the browser reached it, or as [api] base_url names it (behind a proxy).
    own = {
        request.headers.get("host", ""),
        urlsplit(conf.get("api", "base_url", fallback="")).netloc,
    }
    if urlsplit(origin).netloc not in own - {""}:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin request refused")


def json_body(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json")


def ui_root(request: Request) -> str:
    """The Airflow UI's root path (the API server may sit below a base_url path)."""
    root = request.scope.get("root_path", "")
    return root[: -len(MOUNT)] if root.endswith(MOUNT) else root


def run_link(request: Request, dag_id: str, run_id: str) -> str:
    return f"{ui_root(request)}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def registry_link(request: Request, *parts: str) -> str:
    return "/".join([f"{ui_root(request)}{MOUNT}", *(quote(p, safe="") for p in parts)])


def when(value: Any) -> str:
    """A time as the page shows it: UTC to the second."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


TEMPLATES.filters.update(when=when, score=score)


def get_registry(request: Request) -> reg.Registry:
    return request.app.state.registry_factory()


RegistryDep = Annotated[reg.Registry, Depends(get_registry)]


def create_app(registry_factory: RegistryFactory = default_registry) -> FastAPI:
    """The plugin's app; tests give it a registry on their own clients."""
    app = FastAPI(
        title="Model registry",
        description="SageMaker model package groups and versions made by the DAG runs",
        docs_url=None,
        redoc_url=None,
    )

    app.state.registry_factory = registry_factory

    def readable_versions(
        request: Request, user: BaseUser, registry: reg.Registry, group: str
    ) -> list[reg.Version]:
        try:
            versions = registry.versions(group)
        except reg.NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        return [v for v in versions if may_access(request, user, "GET", v.dag_id)]

    def groups_with_versions(
        request: Request, user: BaseUser, registry: reg.Registry
    ) -> list[dict[str, Any]]:
        found = []
        for group in registry.groups():
            versions = readable_versions(request, user, registry, group["name"])
            champion = next((v for v in versions if v.is_champion), None)
            found.append({**group, "versions": versions, "champion": champion})
        return found

    def version_json(request: Request, user: BaseUser, version: reg.Version) -> dict[str, Any]:
        data = version.as_json()
        data["can_change_status"] = may_access(request, user, "PUT", version.dag_id)
        if version.dag_id and version.run_id:
            data["dag_run_url"] = run_link(request, version.dag_id, version.run_id)
            data["run_view_url"] = registry_link(request, "runs", version.dag_id, version.run_id)
            if version.has_report:
                data["report_url"] = registry_link(
                    request, "runs", version.dag_id, version.run_id, "report", "report.html"
                )
        return data

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: GetUserDep, registry: RegistryDep) -> HTMLResponse:
        groups = groups_with_versions(request, user, registry)
        views = [
            {
                **group,
                "versions": [version_json(request, user, v) for v in group["versions"]],
                "champion": group["champion"].as_json() if group["champion"] else None,
            }
            for group in groups
        ]
        body = TEMPLATES.get_template("registry.html").render(
            groups=views, user=user.get_name(), api=registry_link(request, "api")
        )
        return HTMLResponse(body)

    @app.get("/api/groups")
    def list_groups(
        request: Request, user: GetUserDep, registry: RegistryDep
    ) -> list[dict[str, Any]]:
        return [
            {
                "name": group["name"],
                "description": group["description"],
                "champion": group["champion"].arn if group["champion"] else None,
                "versions": [version_json(request, user, v) for v in group["versions"]],
            }
            for group in groups_with_versions(request, user, registry)
        ]

    @app.get("/api/groups/{group}/versions")
    def list_versions(
        group: str, request: Request, user: GetUserDep, registry: RegistryDep
    ) -> list[dict[str, Any]]:
        return [
            version_json(request, user, v)
            for v in readable_versions(request, user, registry, group)
        ]

    @app.post(
        "/api/groups/{group}/versions/{version}/approval",
        dependencies=[Depends(json_body), Depends(same_origin)],
    )
    def change_status(
        group: str,
        version: int,
        body: ApprovalBody,
        request: Request,
        user: GetUserDep,
        registry: RegistryDep,
    ) -> dict[str, Any]:
        try:
            package = registry.describe(registry.version_arn(group, version))
        except reg.NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        dag_id = (package.get("CustomerMetadataProperties") or {}).get("dag_id")
        if not may_access(request, user, "GET", dag_id):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"group {group} has no version {version}"
            )
        if not may_access(request, user, "PUT", dag_id):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"changing this version needs edit access to the runs of DAG {dag_id}",
            )
        note = body.note.strip()
        updated = registry.set_status(package["ModelPackageArn"], body.status, note)
        return version_json(request, user, registry.version_from(updated))

    def run_summary(registry: reg.Registry, dag_id: str, run_id: str) -> dict[str, Any]:
        summary = registry.summary(dag_id, run_id)
        if summary is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id} has no summary yet")
        return summary

    read_run = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]

    @app.get("/api/runs/{dag_id}/{run_id}", dependencies=read_run)
    def run_json(dag_id: str, run_id: str, registry: RegistryDep) -> dict[str, Any]:
        return run_summary(registry, dag_id, run_id)

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=read_run)
    def run_page(dag_id: str, run_id: str, request: Request, registry: RegistryDep) -> HTMLResponse:
        summary = registry.summary(dag_id, run_id)
        body = TEMPLATES.get_template("run.html").render(
            dag_id=dag_id,
            run_id=run_id,
            summary=summary,
            champion=reg.champion_block(summary) if summary else None,
            registry_url=registry_link(request) + "/",
            dag_run_url=run_link(request, dag_id, run_id),
            report_url=registry_link(request, "runs", dag_id, run_id, "report", "report.html")
            if summary and summary.get("report_uri")
            else None,
        )
        return HTMLResponse(body)

    @app.get("/runs/{dag_id}/{run_id}/report/{name}", dependencies=read_run)
    def report_file(dag_id: str, run_id: str, name: str, registry: RegistryDep) -> Response:
        try:
            content = registry.report_file(dag_id, run_id, name)
        except reg.NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"Content-Security-Policy": REPORT_POLICY}
        return Response(content, media_type=media_type, headers=headers)

    return app
