"""``GET /healthz``: can we store events, and how far behind is the worker."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from plugin.store.inbox import backlog

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    store = current_app.extensions["lsqa"]["store"]
    problem = store.ping()
    if problem:
        return jsonify(status="unavailable", store=problem), 503
    try:
        with store.inbox_read() as conn:
            counts = backlog(conn)
    except SQLAlchemyError:
        return jsonify(status="unavailable", store="schema missing: run lsqa migrate"), 503
    return jsonify(status="ok", store="ok", inbox_pending=counts["pending"], inbox_failed=counts["failed"])
