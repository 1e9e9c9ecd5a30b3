"""JSON API routes behind the dashboard's panels; they register on the one `api` blueprint."""

import re
from importlib import resources
from typing import Any

import yaml
from flask import Response, current_app, jsonify, request
from sqlalchemy import Connection

from plugin.gold.panels import (
    accuracy_timeline,
    class_heatmap,
    library_health,
    project_exists,
    project_list,
    recent_alerts,
)
from plugin.settings import review_settings
from plugin.store.relabel_tabs import tab_view_ids
from webhooks.api import api, require_token
from webhooks.ls_links import project_url, tab_url, task_url

MAX_ALERTS = 500


@api.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3 description of every /api/v1 route (public: it holds no data)."""
    return jsonify(load_openapi())


def load_openapi() -> dict[str, Any]:
    text = resources.files("webhooks").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@api.get("/projects")
@require_token
def list_projects():  # type: ignore[no-untyped-def]
    with current_app.extensions["lsqa"]["store"].read() as conn:
        found = project_list(conn)
    return jsonify(projects=[{**p, "url": project_url(p["id"])} for p in found])


def _project_panel(project_id: int, build: Any, *args: Any):  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    with lsqa["store"].read() as conn:
        if not project_exists(conn, project_id):
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        return jsonify(build(conn, project_id, *args))


@api.get("/projects/<int:project_id>/timeline")
@require_token
def project_timeline(project_id: int):  # type: ignore[no-untyped-def]
    return _project_panel(project_id, _linked(accuracy_timeline, _link_flags), _review())


@api.get("/projects/<int:project_id>/heatmap")
@require_token
def project_heatmap(project_id: int):  # type: ignore[no-untyped-def]
    return _project_panel(project_id, class_heatmap, _review())


@api.get("/projects/<int:project_id>/gold")
@require_token
def project_gold(project_id: int):  # type: ignore[no-untyped-def]
    return _project_panel(project_id, _linked(library_health, _link_gold_items), _review())


@api.get("/projects/<int:project_id>/alerts")
@require_token
def project_alerts(project_id: int):  # type: ignore[no-untyped-def]
    limit = request.args.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,4}", limit) or not 1 <= int(limit) <= MAX_ALERTS:
        return jsonify(error=f"limit must be an integer from 1 to {MAX_ALERTS}"), 400
    return _project_panel(
        project_id, lambda conn, pid: {"project_id": pid, "alerts": recent_alerts(conn, pid, int(limit))}
    )


def _review() -> Any:
    return review_settings(current_app.extensions["lsqa"]["settings"])


def _linked(build: Any, add_links: Any) -> Any:
    """A panel builder whose answer gets links into Label Studio (they need the app's settings)."""

    def build_and_link(conn: Any, project_id: int, *args: Any) -> dict[str, Any]:
        answer: dict[str, Any] = build(conn, project_id, *args)
        add_links(conn, answer)
        return answer

    return build_and_link


def _link_flags(conn: Connection, timeline: dict[str, Any]) -> None:
    """Each flag leads to its Data Manager tab (plugin.relabel.views), else to the project's data manager
    (a cleared flag's tab is deleted; an open one's appears with the next ``relabel_views`` job)."""
    project_id = timeline["project_id"]
    tabs = tab_view_ids(conn, project_id)
    for person in timeline["annotators"]:
        for flag in person["flags"]:
            flag["url"] = tab_url(project_id, tabs.get(f"flag:{flag['id']}"))


def _link_gold_items(conn: Connection, health: dict[str, Any]) -> None:
    for item in health["items"]:
        item["source_task_url"] = task_url(item["source_project_id"], item["source_task_id"])
