"""``GET /healthz``: can we store events, and is the worker alive and getting through them.

200 when both hold; 503 when the store is unreachable, when events have waited longer than
``worker.stuck_after_seconds`` while no worker got through the inbox for as long (``stuck``), or
when the last worker seen stopped beating without saying goodbye (``worker silent``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from plugin.status import OK, worker_health

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    store = lsqa["store"]
    problem = store.ping()
    if problem:
        return jsonify(status="unavailable", store=problem), 503
    try:
        with store.read() as conn, store.inbox_read() as inbox_conn:
            worker = worker_health(conn, inbox_conn, lsqa["settings"]["worker.stuck_after_seconds"])
    except SQLAlchemyError:
        return jsonify(status="unavailable", store="schema missing: run lsqa migrate"), 503
    body = {
        "status": worker.pop("state"),
        "store": "ok",
        "inbox_pending": worker.pop("pending"),
        "inbox_failed": worker.pop("parked"),
        **worker,
    }
    return jsonify(body), 200 if body["status"] == OK else 503
