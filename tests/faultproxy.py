"""A fault-injecting HTTP proxy in front of a real Label Studio, for the faults it cannot make on demand.

Requests pass through to ``upstream`` unchanged, except those matching a :class:`Fault`: it either
answers in Label Studio's place (``status``, e.g. a 503 with ``Retry-After``) without forwarding,
or forwards the request and then hangs up without answering (``drop_answer``: the call took effect,
its answer was lost). Each fault applies ``times`` times. ``seen`` lists ``(method, path)`` of
every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


@dataclass
class Fault:
    method: str
    path_prefix: str
    times: int = 1
    status: int | None = None  # answer this instead of forwarding
    headers: dict[str, str] = field(default_factory=dict)
    drop_answer: bool = False  # forward, then close the connection without answering


class FaultProxy:
    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = (upstream or "").rstrip("/")
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.seen if m == method and p.startswith(path_prefix))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.seen.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and path.startswith(fault.path_prefix):
                    fault.times -= 1
                    return fault
        return None


def _handler(proxy: FaultProxy) -> Any:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fault = proxy.take_fault(self.command, self.path)
            if fault is not None and fault.status is not None:
                self._answer(
                    fault.status,
                    {"Content-Type": "application/json", **fault.headers},
                    b'{"detail": "fault"}',
                )
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            answer = requests.request(
                self.command, proxy.upstream + self.path, headers=headers, data=body, timeout=60
            )
            if fault is not None and fault.drop_answer:
                self.close_connection = True
                return
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            self._answer(answer.status_code, kept, answer.content)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve  # noqa: N815 (http.server's naming)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
