"""``GET /api/v1/projects/<id>/batches``: each batch's sample progress and agreement figures."""

from flask import current_app, jsonify
from sqlalchemy import select

from plugin.agreement.summary import list_batches
from plugin.store.schema import projects
from webhooks.api import api, require_token
from webhooks.ls_links import project_url


@api.get("/projects/<int:project_id>/batches")
@require_token
def project_batches(project_id: int):  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    threshold = lsqa["settings"]["agreement.kappa_threshold"]
    with lsqa["store"].read() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        batches = list_batches(conn, project_id, threshold)
    # a batch's tasks are in the project's data manager (no URL filter for a batch exists there)
    linked = [{**b, "url": project_url(project_id)} for b in batches]
    return jsonify(project_id=project_id, kappa_threshold=threshold, batches=linked)
