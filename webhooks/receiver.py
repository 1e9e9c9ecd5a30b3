"""``POST /webhooks/label-studio``: authenticate → parse → persist idempotently → acknowledge.

Label Studio sends webhooks synchronously inside the annotator's request, with a 1 s timeout and
no retry (shared/label-studio-notes.md §1), so this path does nothing but store the raw event;
the worker does the rest. Bodies contain the project's API token: it is removed before storing,
and bodies are never logged.

The route is answered by a small WSGI layer in front of Flask rather than by a Flask view: under
load, building Flask's request and response objects cost more CPU than everything the receiver
itself does (profile in the README's Benchmarks section). Every other route goes to Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_content_length, get_input_stream

from plugin.events import HANDLED_ACTIONS, EventError, load_body, parse_event, project_id_of, redact
from plugin.settings import Settings
from plugin.store.inbox import InboxEvent
from plugin.store.writer import InboxWriter

log = logging.getLogger(__name__)

PATH = "/webhooks/label-studio"
COMMIT_WAIT_SECONDS = 10.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Response = tuple[str, bytes]


def _response(status: str, payload: dict[str, str]) -> Response:
    # The same bytes Flask's jsonify produces, so clients see no difference between routes.
    return status, (json.dumps(payload, separators=(",", ":"), sort_keys=True) + "\n").encode()


ACCEPTED = _response("200 OK", {"status": "accepted"})
DUPLICATE = _response("200 OK", {"status": "duplicate"})
NOT_AN_EVENT = _response("400 BAD REQUEST", {"error": "body is not a Label Studio event (no 'action')"})
WRONG_TYPE = _response("415 UNSUPPORTED MEDIA TYPE", {"error": "expected Content-Type: application/json"})
TOO_SLOW = _response("503 SERVICE UNAVAILABLE", {"error": "store too slow; event not acknowledged"})
STORE_DOWN = _response("503 SERVICE UNAVAILABLE", {"error": "store unavailable; event not acknowledged"})
NOT_ALLOWED = _response("405 METHOD NOT ALLOWED", {"error": "Method Not Allowed"})


def stored_text(body: dict[str, Any], raw: bytes) -> str:
    """The text to store: the raw body unless secrets had to be cut out of it."""
    if not redact(body):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:  # JSON may legally arrive as UTF-16/32
            pass
    return json.dumps(body, separators=(",", ":"))


class Receiver:
    """WSGI middleware answering the webhook route itself and passing every other request on."""

    def __init__(self, settings: Settings, writer: InboxWriter, app: WSGIApp) -> None:
        self._app = app
        header = settings["webhook.header"]
        self._header_key = "HTTP_" + header.upper().replace("-", "_")
        self._secret = settings["webhook.secret"].encode()
        self._max_bytes = settings["webhook.max_body_bytes"]
        self._writer = writer
        self._unauthorized = _response("401 UNAUTHORIZED", {"error": f"missing or wrong {header} header"})
        self._too_large = _response(
            "413 REQUEST ENTITY TOO LARGE", {"error": f"body larger than {self._max_bytes} bytes"}
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self._app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                status, body = self.receive(environ)
            except Exception as exc:  # answered as JSON like every other route
                log.error("unhandled %s while receiving a webhook", type(exc).__name__)
                status, body = _response("500 INTERNAL SERVER ERROR", {"error": "Internal Server Error"})
            extra = []
        else:
            (status, body), extra = NOT_ALLOWED, [("Allow", "POST")]
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra]
        )
        return [body]

    def receive(self, environ: dict[str, Any]) -> Response:
        supplied = environ.get(self._header_key, "")
        if not hmac.compare_digest(supplied.encode(), self._secret):
            return self._unauthorized
        length = get_content_length(environ)
        if length is not None and length > self._max_bytes:
            return self._too_large
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return WRONG_TYPE
        try:
            raw = self._read_body(environ, length)
        except RequestEntityTooLarge:  # a chunked body past the limit
            return self._too_large
        try:
            body = load_body(raw)
            if not isinstance(body, dict) or not isinstance(body.get("action"), str):
                return NOT_AN_EVENT
            action = body["action"]
            if action not in HANDLED_ACTIONS:
                return _response("200 OK", {"status": "ignored", "action": action[:64]})
            # Refused here, the sender hears why; stored, the event would only be parked later.
            parse_event(body)
            project_id = project_id_of(body)
        except EventError as exc:  # its message names the field, never a value
            return _response("400 BAD REQUEST", {"error": str(exc)})
        event = InboxEvent(hashlib.sha256(raw).hexdigest(), action, project_id, stored_text(body, raw))
        return self._persist(event)

    def _read_body(self, environ: dict[str, Any], length: int | None) -> bytes:
        if length is not None:  # the common case: read exactly what was announced
            return environ["wsgi.input"].read(length) if length else b""
        # A chunked body: werkzeug's limited stream stops quietly at its limit, so read one byte
        # past ours to tell a body of exactly the limit from a longer one.
        raw = get_input_stream(environ, max_content_length=self._max_bytes + 1).read()
        if len(raw) > self._max_bytes:
            raise RequestEntityTooLarge()
        return raw

    def _persist(self, event: InboxEvent) -> Response:
        """Acknowledge only once the event is committed."""
        try:
            new = self._writer.submit(event).result(timeout=COMMIT_WAIT_SECONDS)
        except TimeoutError:
            log.error("inbox write did not finish in %.0f s", COMMIT_WAIT_SECONDS)
            return TOO_SLOW
        except Exception as exc:
            log.error("inbox write failed: %s", type(exc).__name__)
            return STORE_DOWN
        return ACCEPTED if new else DUPLICATE
