"""``POST /webhooks/label-studio``: authenticate → parse → persist idempotently → acknowledge.

Label Studio sends webhooks synchronously inside the annotator's request, with a 1 s timeout and
no retry (shared/label-studio-notes.md §1), so this path does nothing but store the raw event;
the worker does the rest. Bodies contain the project's API token: it is removed before storing,
and bodies are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, current_app, jsonify, request

from plugin.events import HANDLED_ACTIONS, project_id_of, redact
from plugin.store.inbox import InboxEvent

log = logging.getLogger(__name__)
receiver = Blueprint("receiver", __name__)

COMMIT_WAIT_SECONDS = 10.0


def _error(status: int, message: str):  # type: ignore[no-untyped-def]
    return jsonify(error=message), status


def _serialize(body: dict, raw: bytes) -> str:
    """The text to store: the raw body unless secrets had to be cut out of it."""
    if not redact(body):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:  # JSON may legally arrive as UTF-16/32
            pass
    return json.dumps(body, separators=(",", ":"))


@receiver.post("/webhooks/label-studio")
def receive():  # type: ignore[no-untyped-def]
    lsqa = current_app.extensions["lsqa"]
    settings = lsqa["settings"]
    supplied = request.headers.get(settings["webhook.header"], "")
    if not hmac.compare_digest(supplied.encode(), settings["webhook.secret"].encode()):
        return _error(401, f"missing or wrong {settings['webhook.header']} header")
    if request.content_length is not None and request.content_length > settings["webhook.max_body_bytes"]:
        return _error(413, f"body larger than {settings['webhook.max_body_bytes']} bytes")
    if request.mimetype != "application/json":
        return _error(415, "expected Content-Type: application/json")
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH for chunked bodies
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not valid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        return _error(400, "body is not a Label Studio event (no 'action')")
    action = body["action"]
    if action not in HANDLED_ACTIONS:
        return jsonify(status="ignored", action=action[:64]), 200
    stored = _serialize(body, raw)
    event = InboxEvent(hashlib.sha256(raw).hexdigest(), action, project_id_of(body), stored)
    try:
        new = lsqa["writer"].submit(event).result(timeout=COMMIT_WAIT_SECONDS)
    except FutureTimeout:
        log.error("inbox write did not finish in %.0f s", COMMIT_WAIT_SECONDS)
        return _error(503, "store too slow; event not acknowledged")
    except Exception as exc:
        log.error("inbox write failed: %s", type(exc).__name__)
        return _error(503, "store unavailable; event not acknowledged")
    return jsonify(status="accepted" if new else "duplicate"), 200
