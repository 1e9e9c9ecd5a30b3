"""Alert delivery retried with back-off, each attempt recorded, against real local Slack and SMTP servers."""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from plugin.alert_delivery import send_alert_job
from plugin.alerts import Alert, AlertSettings, raise_alert_once
from plugin.jobs import run_due_jobs
from plugin.store.alert_causes import clear_cause
from plugin.store.schema import alerts, jobs
from plugin.store.schema_alerts import alert_deliveries

ALERT = Alert("job_failed", "critical", 3, "Project 3: a create_copy job failed for good", "403 Forbidden")


class Slack(BaseHTTPRequestHandler):
    answers: list[int] = []  # statuses to answer, in order; then 200
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack():
    handler = type("Handler", (Slack,), {"answers": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_port}/services/T0/B0/secret"
    server.shutdown()
    server.server_close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, controller.port
    controller.stop()


def deliver(store, settings, attempts):
    handlers = {"send_alert": lambda job: send_alert_job(store, settings, job, attempts=attempts)}
    run_due_jobs(store, handlers)
    with store.begin() as conn:
        conn.execute(update(jobs).values(run_after=datetime.now(UTC) - timedelta(seconds=1)))


def attempts_of(store):
    with store.read() as conn:
        query = select(alert_deliveries).order_by(alert_deliveries.c.id)
        return [(r.attempt, r.channel, r.delivered) for r in conn.execute(query)]


def test_a_failed_channel_is_retried_alone_and_every_attempt_is_kept(store, slack, smtp):
    handler, url = slack
    handler.answers = [500]
    box, port = smtp
    settings = AlertSettings(
        slack_webhook_url=url, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
        email_from="qa@example.com", email_to=("lead@example.com",),
    )  # fmt: skip
    with store.begin() as conn:
        alert_id = raise_alert_once(conn, "job_failed:3:create_copy", ALERT)

    deliver(store, settings, attempts=3)
    deliver(store, settings, attempts=3)
    deliver(store, settings, attempts=3)  # nothing left to do

    assert attempts_of(store) == [
        (1, "log", True), (1, "slack", False), (1, "email", True), (2, "slack", True),
    ]  # fmt: skip
    assert len(handler.received) == 2 and len(box.messages) == 1  # e-mail not sent twice
    with store.read() as conn:
        delivered = conn.execute(select(alerts.c.delivered).where(alerts.c.id == alert_id)).scalar_one()
        job = conn.execute(select(jobs.c.status, jobs.c.attempts)).one()
    assert {d["channel"]: d["delivered"] for d in delivered} == {"log": True, "slack": True, "email": True}
    assert tuple(job) == ("done", 1)
    assert url not in json.dumps(delivered)


def test_a_channel_that_keeps_failing_fails_the_delivery_for_good(store, slack):
    handler, url = slack
    handler.answers = [503] * 10
    with store.begin() as conn:
        raise_alert_once(conn, "sync_failing:3", ALERT)
    for _ in range(4):
        deliver(store, AlertSettings(slack_webhook_url=url), attempts=2)

    assert attempts_of(store) == [(1, "log", True), (1, "slack", False), (2, "slack", False)]
    with store.read() as conn:
        status, error = conn.execute(select(jobs.c.status, jobs.c.last_error)).one()
    assert status == "failed" and "not delivered after 2 attempts" in error and "503" in error
    assert "secret" not in error


def test_raise_alert_once_per_episode(store):
    with store.begin() as conn:
        first = raise_alert_once(conn, "cause", ALERT)
        assert raise_alert_once(conn, "cause", ALERT) is None
        clear_cause(conn, "cause")
        again = raise_alert_once(conn, "cause", ALERT)
    assert first is not None and again is not None and again != first
