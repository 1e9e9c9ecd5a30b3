"""``GET /api/v1/projects/<id>/relabel``: a project's relabel queue (contract: briefs/contracts.md)."""

from flask import current_app, jsonify
from sqlalchemy import select

from plugin.relabel.queue import item_as_json, items_of, relabel_project_of
from plugin.store.schema import projects
from webhooks.api import api, require_token


@api.get("/projects/<int:project_id>/relabel")
@require_token
def list_relabel_items(project_id: int):  # type: ignore[no-untyped-def]
    with current_app.extensions["lsqa"]["store"].read() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        target = relabel_project_of(conn, project_id)
        items = [item_as_json(i) for i in items_of(conn, project_id)]
    return jsonify(
        project_id=project_id,
        relabel_project_id=target["relabel_project_id"] if target else None,
        items=items,
    )
