"""``GET /api/v1/projects/<id>/relabel``: a project's relabel queue (contract: briefs/contracts.md)."""

from typing import Any

from flask import current_app, jsonify
from sqlalchemy import select

from plugin.relabel.queue import item_as_json, items_of, relabel_project_of
from plugin.store.people import display_names, ids_in_reason, named_reason
from plugin.store.schema import projects
from webhooks.api import api, require_token
from webhooks.ls_links import task_url


@api.get("/projects/<int:project_id>/relabel")
@require_token
def list_relabel_items(project_id: int):  # type: ignore[no-untyped-def]
    with current_app.extensions["lsqa"]["store"].read() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        target = relabel_project_of(conn, project_id)
        items = [item_as_json(i) for i in items_of(conn, project_id)]
        names = display_names(conn, _people_in(items))
    relabel_project_id = target["relabel_project_id"] if target else None
    return jsonify(
        project_id=project_id,
        relabel_project_id=relabel_project_id,
        items=[_with_names_and_links(i, project_id, relabel_project_id, names) for i in items],
    )


def _people_in(items: list[dict[str, Any]]) -> set[int]:
    people: set[int] = set()
    for item in items:
        people |= {item["annotator_id"], item["corrected_by"]} - {None}
        people |= ids_in_reason(item["reason"])
    return people


def _with_names_and_links(
    item: dict[str, Any], project_id: int, relabel_project_id: int | None, names: dict[int, str]
) -> dict[str, Any]:
    return {
        **item,
        "annotator_name": names.get(item["annotator_id"]),
        "corrected_by_name": names.get(item["corrected_by"]),
        "reason_text": named_reason(item["reason"], names),
        "url": task_url(project_id, item["source_task_id"]),
        "relabel_url": task_url(relabel_project_id, item["relabel_task_id"]),
    }
