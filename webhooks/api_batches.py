"""``GET /api/v1/projects/<id>/batches``: each batch's sample progress and agreement figures."""

from flask import current_app, jsonify
from sqlalchemy import select

from plugin.agreement.summary import list_batches
from plugin.store.relabel_tabs import tab_view_ids
from plugin.store.schema import projects
from webhooks.api import api, require_token
from webhooks.ls_links import tab_url


@api.get("/projects/<int:project_id>/batches")
@require_token
def project_batches(project_id: int):  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    threshold = lsqa["settings"]["agreement.kappa_threshold"]
    with lsqa["store"].read() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        batches = list_batches(conn, project_id, threshold)
        tabs = tab_view_ids(conn, project_id)
    # a weak batch leads to its tab of disagreeing tasks (plugin.relabel.views), another to the data manager
    linked = [{**b, "url": tab_url(project_id, tabs.get(f"batch:{b['id']}"))} for b in batches]
    return jsonify(project_id=project_id, kappa_threshold=threshold, batches=linked)
