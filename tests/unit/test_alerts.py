"""Alert delivery against real local servers: an HTTP webhook receiver and an SMTP server."""

import json
import logging
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from plugin.alerts import (
    Alert,
    AlertSettings,
    annotator_flagged_alert,
    deliver_alert,
    quiz_alert,
    slack_payload,
)
from plugin.quality import GoldAnswer, decide_status, judge_quiz

ALERT = Alert(
    kind="annotator_flagged",
    severity="warning",
    project_id=7,
    title="Annotator ann@example.com flagged",
    text="Accuracy 0.62 on the last 30 gold answers.",
    details={"accuracy": 0.62, "api_token": "tok-123", "n": 30},
)
SECRET_PATH = "/services/T000/B000/s3cr3tXYZ"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook(BaseHTTPRequestHandler):
    status = 200
    delay = 0.0
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        time.sleep(type(self).delay)
        try:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b"ok" if type(self).status == 200 else b"invalid_payload")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up, as the timeout test means it to

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    handler = type("Handler", (Webhook,), {"received": [], "status": 200, "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    server.shutdown()
    server.server_close()


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_log_only_without_configuration(caplog):
    with caplog.at_level(logging.INFO, logger="plugin.alerts"):
        record = deliver_alert(ALERT)
    assert record.delivered_to == ("log",)
    [entry] = caplog.records
    assert entry.levelno == logging.WARNING and "annotator_flagged" in entry.getMessage()
    assert "tok-123" not in entry.getMessage() and "[redacted]" in entry.getMessage()


def test_slack_webhook_receives_the_alert(webhook):
    handler, url = webhook
    record = deliver_alert(ALERT, AlertSettings(slack_webhook_url=url, slack_blocks=True))
    assert record.delivered_to == ("log", "slack")
    assert record.deliveries[1].target == url.split("/")[2] and SECRET_PATH not in json.dumps(
        record.to_dict()
    )
    [(path, content_type, body)] = handler.received
    assert path == SECRET_PATH and content_type == "application/json"
    assert body["text"].startswith("*Annotator ann@example.com flagged*")
    assert "tok-123" not in json.dumps(body)
    assert body["blocks"][0]["text"]["text"] == ALERT.title


def test_slack_error_answer_is_logged_not_raised(webhook, caplog):
    handler, url = webhook
    handler.status = 500
    with caplog.at_level(logging.ERROR, logger="plugin.alerts"):
        record = deliver_alert(ALERT, AlertSettings(slack_webhook_url=url))
    slack = record.deliveries[1]
    assert not slack.delivered and slack.error == "HTTP 500: invalid_payload"
    assert "not delivered by slack" in caplog.text


def test_slack_timeout_is_logged_without_the_secret_url(webhook, caplog):
    handler, url = webhook
    handler.delay = 1.0
    with caplog.at_level(logging.ERROR, logger="plugin.alerts"):
        start = time.monotonic()
        record = deliver_alert(ALERT, AlertSettings(slack_webhook_url=url, slack_timeout=0.2))
        assert time.monotonic() - start < 0.9
    slack = record.deliveries[1]
    assert not slack.delivered and "Timeout" in slack.error
    assert "s3cr3t" not in slack.error and "s3cr3t" not in caplog.text


def test_unreachable_slack_is_recorded():
    url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    record = deliver_alert(ALERT, AlertSettings(slack_webhook_url=url, slack_timeout=1))
    assert not record.deliveries[1].delivered and "ConnectionError" in record.deliveries[1].error
    assert "s3cr3t" not in record.deliveries[1].error


def email_settings(port, **overrides):
    base = dict(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        email_from="lsqa@example.com",
        email_to=("lead@example.com", "qa@example.com"),
        smtp_timeout=5,
    )
    return AlertSettings(**{**base, **overrides})


def test_email_arrives_with_subject_and_recipients(smtp_server):
    inbox, port = smtp_server
    record = deliver_alert(ALERT, email_settings(port))
    assert record.delivered_to == ("log", "email")
    assert record.deliveries[1].target == "lead@example.com, qa@example.com"
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "lsqa@example.com"
    assert envelope.rcpt_tos == ["lead@example.com", "qa@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "[lsqa] WARNING: Annotator ann@example.com flagged"
    assert message["X-LSQA-Alert"] == "annotator_flagged"
    body = message.get_payload(decode=True).decode()
    assert "Accuracy 0.62" in body and "api_token: [redacted]" in body and "tok-123" not in body


def test_starttls_refused_by_the_server_is_recorded(smtp_server):
    inbox, port = smtp_server
    record = deliver_alert(ALERT, email_settings(port, smtp_starttls=True))
    email = record.deliveries[1]
    assert not email.delivered and "STARTTLS" in email.error and inbox.envelopes == []


def test_unreachable_smtp_host_is_logged_not_raised(caplog):
    settings = email_settings(free_port(), smtp_password="hunter2-secret", smtp_username="bot")
    with caplog.at_level(logging.ERROR, logger="plugin.alerts"):
        record = deliver_alert(ALERT, settings)
    email = record.deliveries[1]
    assert not email.delivered and "ConnectionRefusedError" in email.error
    assert "not delivered by email" in caplog.text and "hunter2" not in caplog.text
    assert "hunter2" not in repr(settings)


def test_email_needs_sender_and_recipients():
    record = deliver_alert(ALERT, AlertSettings(smtp_host="127.0.0.1"))
    assert not record.deliveries[1].delivered and "email_to" in record.deliveries[1].error


def test_configured_secrets_are_scrubbed_from_the_text():
    leaky = Alert("agreement_low", "info", 1, "t", "password is hunter2-secret", {"x": "hunter2-secret"})
    payload = slack_payload(
        leaky, AlertSettings(slack_webhook_url="http://h/x", smtp_password="hunter2-secret")
    )
    assert "hunter2" not in json.dumps(payload)


def test_alert_builders_for_flags_and_quizzes():
    from datetime import datetime, timedelta

    t0 = datetime(2024, 3, 1)
    answers = [GoldAnswer(str(i), t0 + timedelta(hours=i), 0.0, False) for i in range(10)]
    alert = annotator_flagged_alert(3, "ann@example.com", decide_status(answers))
    assert (alert.kind, alert.severity, alert.details["decline started at"]) == (
        "annotator_flagged",
        "warning",
        "2024-03-01T00:00:00",
    )
    failed = quiz_alert(3, "ann@example.com", judge_quiz([1, 0, 0]), attempt=2)
    assert (failed.kind, failed.severity) == ("quiz_failed", "critical") and "#2" in failed.title
    assert quiz_alert(3, "a", judge_quiz([1] * 10)).severity == "info"
