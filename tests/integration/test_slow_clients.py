"""Slow clients never starve acknowledgements (issue 13, item 2), against the real `lsqa serve`.

Label Studio waits 1 s for a webhook's answer and never retries. The service runs 2 processes x 8
threads; 30 unauthenticated clients that trickle their headers or bodies, or announce more body than
they send, must not keep real events from being acknowledged.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from eventfactory import annotation_event
from servicefixtures import SECRET, ServiceProcess

SLOW_CLIENTS_PER_KIND = 10
TRICKLE_PAUSE = 0.5
# Label Studio's own bound is 1 s; asserted generously so a loaded test machine does not flake.
ACK_BOUND = 3.0


def _trickle(sock: socket.socket, stop: threading.Event, chunks: Iterator[bytes]) -> None:
    for chunk in chunks:
        if stop.wait(TRICKLE_PAUSE):
            return
        sock.sendall(chunk)


def slow_body(sock: socket.socket, stop: threading.Event) -> None:
    """Whole headers, no secret, Content-Length 100000, then a byte now and then."""
    head = (
        "POST /webhooks/label-studio HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode())
    _trickle(sock, stop, iter(lambda: b"x", None))


def slow_headers(sock: socket.socket, stop: threading.Event) -> None:
    """A slowloris: one header line now and then, never the blank line that ends them."""
    sock.sendall(b"POST /webhooks/label-studio HTTP/1.1\r\nHost: x\r\n")
    _trickle(sock, stop, (f"X-Pad-{n}: {n}\r\n".encode() for n in range(10**6)))


def short_body(sock: socket.socket, stop: threading.Event) -> None:
    """Announces more body than it sends, then waits; to the login form, whose view reads it."""
    head = (
        "POST /dashboard/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 5000\r\n\r\nusername=a&password="
    )
    sock.sendall(head.encode())
    _trickle(sock, stop, iter(lambda: b"", None))


def _keep_running(
    kind: Callable[[socket.socket, threading.Event], None], port: int, stop: threading.Event
) -> None:
    """An attacker reconnects as soon as the server drops it."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.settimeout(None)
                kind(sock, stop)
        except OSError:
            stop.wait(0.05)


def start_service(workdir, database_url, server_settings: str = "") -> ServiceProcess:
    service = ServiceProcess(workdir, database_url, extra="worker:\n  enabled: false\n")
    config = service.config.read_text()
    service.config.write_text(config.replace("server:\n", "server:\n" + server_settings, 1))
    try:
        return service.start()
    except RuntimeError:
        service.kill()
        raise


@pytest.fixture
def service(tmp_path, sqlite_url):
    service = start_service(tmp_path, sqlite_url)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def impatient_service(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("impatient")
    service = start_service(workdir, f"sqlite:///{workdir / 'lsqa.sqlite3'}", "  read_timeout: 1\n")
    yield service
    service.stop()


def test_thirty_slow_unauthenticated_clients_do_not_delay_real_events(service):
    stop = threading.Event()
    attackers = [
        threading.Thread(target=_keep_running, args=(kind, service.port, stop), daemon=True)
        for kind in (slow_body, slow_headers, short_body)
        for _ in range(SLOW_CLIENTS_PER_KIND)
    ]
    for attacker in attackers:
        attacker.start()
    try:
        time.sleep(3)  # every attacker connected and trickling
        answers = []
        for n in range(5):
            body = json.dumps(annotation_event(500 + n, 9_000 + n, 2)).encode()
            started = time.monotonic()
            try:
                response = requests.post(
                    service.webhook_url,
                    data=body,
                    timeout=ACK_BOUND,
                    headers={"Content-Type": "application/json", "X-LSQA-Secret": SECRET},
                )
                answers.append((response.status_code, round(time.monotonic() - started, 2)))
            except requests.RequestException as exc:
                answers.append((type(exc).__name__, round(time.monotonic() - started, 2)))
    finally:
        stop.set()
    print("status and seconds of each event:", answers)  # shown with -s
    assert [status for status, _ in answers] == [200] * 5, answers


def answer_to(port: int, request: bytes) -> bytes:
    """Send ``request`` and nothing more; what the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


WITH_SECRET = (
    "POST /webhooks/label-studio HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    f"X-LSQA-Secret: {SECRET}\r\n"
)


@pytest.mark.parametrize(
    ("request_bytes", "answer"),
    [
        ((WITH_SECRET + "Content-Length: 1000\r\n\r\n").encode() + b'{"action"', b"HTTP/1.1 408 "),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.1 408 "),  # headers never end
        # More than the worker reads ahead: a thread reads on, until the deadline cuts it off.
        ((WITH_SECRET + "Content-Length: 900000\r\n\r\n").encode() + b" " * 600_000, b"HTTP/1.1 400 "),
    ],
    ids=["short-body", "unended-headers", "short-large-body"],
)
def test_a_request_not_sent_in_time_is_cut_off(impatient_service, request_bytes, answer):
    """Even with the secret: a client gets server.read_timeout for its whole request, then an answer."""
    assert answer_to(impatient_service.port, request_bytes).startswith(answer)
