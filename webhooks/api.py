"""The JSON API (``/api/v1``): read-only QA figures, behind a bearer token.

Gold answers (the expert results) never leave the store through it: only scores and statuses.
"""

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from plugin.gold.summary import annotator_ids, annotator_summary
from plugin.settings import review_settings
from plugin.store.schema import projects
from webhooks.dashboard.auth import logged_in

api = Blueprint("api", __name__, url_prefix="/api/v1")
LARGEST_ID = 2**63 - 1  # ids are BIGINT: a larger one cannot exist, and would overflow the driver


@api.url_value_preprocessor
def _reject_impossible_ids(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if any(isinstance(v, int) and v > LARGEST_ID for v in (values or {}).values()):
        abort(404)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if logged_in():  # the dashboard's pages read the API with their session
            return view(*args, **kwargs)
        token = current_app.extensions["lsqa"]["settings"]["api.token"]
        if not token:
            return jsonify(error="the API is off: set api.token (or $LSQA_API_TOKEN)"), 503
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), token.encode()):
            response = jsonify(error="missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="lsqa"'
            return response, 401
        return view(*args, **kwargs)

    return guarded


@api.get("/projects/<int:project_id>/annotators")
@require_token
def list_annotators(project_id: int):  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    review = review_settings(lsqa["settings"])
    with lsqa["store"].read() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
            return jsonify(error=f"project {project_id} is not known here: run lsqa connect"), 404
        people = [annotator_summary(conn, project_id, a, review) for a in annotator_ids(conn, project_id)]
    return jsonify(project_id=project_id, annotators=people)


# Routes of later features live in their own modules on this blueprint.
from webhooks import api_batches, api_dashboard, api_relabel, api_reports  # noqa: E402,F401
