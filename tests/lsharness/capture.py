"""A throwaway webhook receiver that records what Label Studio sends.

Label Studio delivers webhooks synchronously inside the request that caused them, with a 1 s timeout and no
retry (``/work/shared/label-studio-notes.md`` §1), so the receiver answers at once and is multi-threaded: a
test that calls back into Label Studio from a handler would otherwise deadlock.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class CapturedRequest:
    """One request as received: path, headers (original case) and the raw body bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def action(self) -> str | None:
        """The Label Studio ``action`` field, or None if the body is not a JSON object."""
        try:
            payload = self.json()
        except ValueError:
            return None
        return payload.get("action") if isinstance(payload, dict) else None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


class WebhookCapture:
    """``with WebhookCapture() as hook:``, register ``hook.url`` in Label Studio, ``hook.wait_for(...)``."""

    def __init__(self, host: str = "127.0.0.1", path: str = "/hook", status: int = 200) -> None:
        self.host, self.path, self.status = host, path, status
        self._requests: list[CapturedRequest] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("WebhookCapture is not running")
        return f"http://{self.host}:{self._server.server_address[1]}{self.path}"

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._changed:
            return list(self._requests)

    def of_action(self, action: str) -> list[CapturedRequest]:
        return [request for request in self.requests if request.action == action]

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()

    def wait_for(self, action: str, count: int = 1, timeout: float = 10.0) -> list[CapturedRequest]:
        """Block until at least ``count`` requests with ``action`` arrived; return them in arrival order."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [request for request in self._requests if request.action == action]
                remaining = deadline - time.monotonic()
                if len(matching) >= count:
                    return matching
                if remaining <= 0:
                    seen = [request.action for request in self._requests]
                    raise TimeoutError(
                        f"waited {timeout} s for {count} x {action}; got {len(matching)}; seen {seen}"
                    )
                self._changed.wait(remaining)

    def _record(self, request: CapturedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def __enter__(self) -> WebhookCapture:
        self._server = ThreadingHTTPServer((self.host, 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-capture", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


def _make_handler(capture: WebhookCapture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            capture._record(CapturedRequest(self.command, self.path, headers, body, time.time()))
            self.send_response(capture.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
            """Stay quiet: the test output is for failures."""

    return Handler
