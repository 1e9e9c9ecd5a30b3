"""Alerts: an :class:`Alert` and its delivery to the log, a Slack-compatible webhook and e-mail.

Delivery never raises: each channel's failure is logged and recorded in the returned
:class:`DeliveryRecord`, which the caller keeps for the audit trail. The log always gets the
alert; Slack and e-mail only when configured. Secrets never leave: detail keys that look like
secrets are redacted, configured secrets are scrubbed from any text, and error messages of a
failed webhook call are stripped of the webhook URL (its path is the credential).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from sqlalchemy import Connection

from plugin.logs import mask_url_password
from plugin.quality.decision import Decision, QuizResult
from plugin.store.alert_causes import Cause, claim_alert, note_cause, set_cause_alert

Severity = Literal["info", "warning", "critical"]
Channel = Literal["log", "slack", "email"]

LOG = logging.getLogger(__name__)
LEVELS: Mapping[str, int] = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}
SECRET_KEY = re.compile(r"password|secret|token|api_?key|authorization|webhook_url", re.IGNORECASE)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Alert:
    """Something a person should know: ``kind`` e.g. ``annotator_flagged``, ``quiz_failed``,
    ``agreement_low``; ``details`` are plain JSON-able values shown as ``key: value`` lines."""

    kind: str
    severity: Severity
    project_id: int | None
    title: str
    text: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go. Slack needs ``slack_webhook_url``; e-mail needs host, sender and recipients."""

    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_timeout: float = 5.0
    slack_blocks: bool = False
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout: float = 10.0
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    subject_prefix: str = "[lsqa]"


@dataclass(frozen=True)
class ChannelDelivery:
    """One channel's attempt: ``target`` names where it went without secrets (host, recipients)."""

    channel: Channel
    target: str
    delivered: bool
    error: str | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """An alert and what happened to it on each channel."""

    alert: Alert
    deliveries: tuple[ChannelDelivery, ...]

    @property
    def delivered_to(self) -> tuple[Channel, ...]:
        return tuple(d.channel for d in self.deliveries if d.delivered)

    def to_dict(self) -> dict[str, Any]:
        return {"alert": asdict(self.alert), "deliveries": [asdict(d) for d in self.deliveries]}


def _secrets(settings: AlertSettings) -> list[str]:
    values = [settings.smtp_password or "", settings.slack_webhook_url or ""]
    if settings.slack_webhook_url:
        values.append(urlsplit(settings.slack_webhook_url).path)
    return sorted((v for v in values if len(v) > 1), key=len, reverse=True)


def scrub(text: str, settings: AlertSettings) -> str:
    """``text`` with every configured secret (password, webhook URL and its path) replaced."""
    for secret in _secrets(settings):
        text = text.replace(secret, REDACTED)
    return text


def safe_details(alert: Alert) -> dict[str, Any]:
    """The alert's details with secret-looking keys redacted."""
    return {k: REDACTED if SECRET_KEY.search(k) else v for k, v in alert.details.items()}


def render_text(alert: Alert, settings: AlertSettings) -> str:
    """Plain-text body: title, text, then one ``key: value`` line per detail."""
    lines = [alert.title, "", alert.text]
    details = safe_details(alert)
    if details:
        lines += [""] + [f"{key}: {value}" for key, value in details.items()]
    if alert.project_id is not None:
        lines += ["", f"project: {alert.project_id} · severity: {alert.severity} · kind: {alert.kind}"]
    return scrub("\n".join(lines), settings)


def slack_payload(alert: Alert, settings: AlertSettings) -> dict[str, Any]:
    """Incoming-webhook body: ``{"text": ...}`` (Slack, Mattermost, Rocket.Chat), plus Block Kit if asked."""
    body = render_text(alert, settings)
    title, _, rest = body.partition("\n")
    payload: dict[str, Any] = {"text": f"*{title}*\n{rest.strip()}"}
    if settings.slack_blocks:
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in safe_details(alert).items()][:10]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": scrub(alert.text, settings) or " "}},
        ]
        if fields:
            blocks.append(
                {"type": "section", "fields": [{**f, "text": scrub(f["text"], settings)} for f in fields]}
            )
        payload["blocks"] = blocks
    return payload


def send_slack(alert: Alert, settings: AlertSettings) -> ChannelDelivery:
    """POST the alert to the incoming webhook; a non-2xx answer or a network error is a failure."""
    url = settings.slack_webhook_url or ""
    target = urlsplit(mask_url_password(url)).netloc or "?"
    try:
        response = requests.post(url, json=slack_payload(alert, settings), timeout=settings.slack_timeout)
    except requests.RequestException as exc:
        return ChannelDelivery("slack", target, False, scrub(f"{type(exc).__name__}: {exc}", settings))
    if not 200 <= response.status_code < 300:
        error = f"HTTP {response.status_code}: {response.text[:200]}"
        return ChannelDelivery("slack", target, False, scrub(error, settings))
    return ChannelDelivery("slack", target, True)


def email_message(alert: Alert, settings: AlertSettings) -> EmailMessage:
    """The e-mail for an alert: subject ``[lsqa] WARNING: <title>``, plain-text body."""
    message = EmailMessage()
    message["Subject"] = scrub(f"{settings.subject_prefix} {alert.severity.upper()}: {alert.title}", settings)
    message["From"] = settings.email_from or ""
    message["To"] = ", ".join(settings.email_to)
    message["X-LSQA-Alert"] = alert.kind
    message.set_content(render_text(alert, settings))
    return message


def send_email(alert: Alert, settings: AlertSettings) -> ChannelDelivery:
    """Send the alert by SMTP (STARTTLS and login when configured)."""
    target = ", ".join(settings.email_to) or "?"
    if not settings.email_from or not settings.email_to:
        return ChannelDelivery("email", target, False, "email_from and email_to must both be set")
    try:
        with smtplib.SMTP(
            settings.smtp_host or "", settings.smtp_port, timeout=settings.smtp_timeout
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(email_message(alert, settings))
    except (OSError, smtplib.SMTPException) as exc:
        return ChannelDelivery("email", target, False, scrub(f"{type(exc).__name__}: {exc}", settings))
    return ChannelDelivery("email", target, True)


def configured_channels(settings: AlertSettings) -> tuple[Channel, ...]:
    """The channels an alert goes to: the log always, Slack and e-mail when configured."""
    channels: list[Channel] = ["log"]
    if settings.slack_webhook_url:
        channels.append("slack")
    if settings.smtp_host:
        channels.append("email")
    return tuple(channels)


def deliver_alert(
    alert: Alert,
    settings: AlertSettings | None = None,
    *,
    logger: logging.Logger | None = None,
    channels: Collection[str] | None = None,
) -> DeliveryRecord:
    """Log the alert, then send it to every configured channel; never raises.

    Parameters
    ----------
    alert : Alert
    settings : AlertSettings, optional
        Default: log only.
    logger : logging.Logger, optional
        Default: this module's logger (``plugin.alerts``).
    channels : collection of str, optional
        Only these of the configured channels (a retry skips the ones already reached).

    Returns
    -------
    DeliveryRecord
        One :class:`ChannelDelivery` per channel tried, the log first.
    """
    settings = settings or AlertSettings()
    logger = logger or LOG
    wanted = [c for c in configured_channels(settings) if channels is None or c in channels]
    deliveries = []
    if "log" in wanted:
        logger.log(
            LEVELS.get(alert.severity, logging.WARNING),
            "alert %s (project %s): %s",
            alert.kind,
            alert.project_id,
            render_text(alert, settings).replace("\n\n", "\n").replace("\n", " | "),
        )
        deliveries.append(ChannelDelivery("log", logger.name, True))
    if "slack" in wanted:
        deliveries.append(send_slack(alert, settings))
    if "email" in wanted:
        deliveries.append(send_email(alert, settings))
    for failed in (d for d in deliveries if not d.delivered):
        logger.error(
            "alert %s not delivered by %s to %s: %s", alert.kind, failed.channel, failed.target, failed.error
        )
    return DeliveryRecord(alert, tuple(deliveries))


def annotator_flagged_alert(project_id: int, annotator: str, decision: Decision) -> Alert:
    """The alert raised when :func:`plugin.quality.decide_status` flags an annotator."""
    since = decision.decline_started_at.isoformat() if decision.decline_started_at else "unknown"
    return Alert(
        kind="annotator_flagged",
        severity="warning",
        project_id=project_id,
        title=f"Annotator {annotator} flagged for requalification",
        text=f"{decision.reason}. Their work since {since} is marked suspect; a requalification quiz starts.",
        details={
            "accuracy": round(decision.accuracy, 3),
            "interval": f"[{decision.lower:.3f}, {decision.upper:.3f}] at {decision.confidence_level:.0%}",
            "gold answers in window": decision.n,
            "threshold": decision.threshold,
            "decline started at": since,
        },
    )


def quiz_alert(project_id: int, annotator: str, result: QuizResult, *, attempt: int = 1) -> Alert:
    """Requalification quiz outcome: passed (info) or failed (critical: the escalation)."""
    passed = result.status == "passed"
    return Alert(
        kind="quiz_passed" if passed else "quiz_failed",
        severity="info" if passed else "critical",
        project_id=project_id,
        title=f"Annotator {annotator} {'passed' if passed else 'failed'} requalification quiz #{attempt}",
        text=(
            f"{result.correct:g} of {result.answered} quiz items right "
            f"(pass mark {result.pass_mark:.0%} of {result.n_items})."
        ),
        details={"attempt": attempt, "accuracy": round(result.accuracy, 3), "pass mark": result.pass_mark},
    )


def raise_alert_once(
    conn: Connection, cause_key: str, alert: Alert, *, now: datetime | None = None
) -> int | None:
    """Raise ``alert`` unless its cause already raised one in the current episode.

    ``cause_key`` names the cause, not the event (``job_failed:3:create_copy``, ``sync_failing:3``):
    the first call of an episode records the alert and enqueues its delivery, later calls only
    count the cause as seen again, until :func:`plugin.store.alert_causes.clear_cause` ends the
    episode. Returns the new alert's id, or None when it was raised before.
    """
    cause = note_cause(conn, cause_key, project_id=alert.project_id, now=now)
    return alert_for_cause(conn, cause, alert, now=now)


def alert_for_cause(
    conn: Connection, cause: Cause, alert: Alert, *, now: datetime | None = None
) -> int | None:
    """Raise ``alert`` for a cause noted with :func:`note_cause`, if its episode has none yet (for
    causes that are worth an alert only once they last, e.g. an annotator on watch for a day)."""
    if cause.alerted or not claim_alert(conn, cause.key, now):
        return None
    from plugin.gold.review import raise_alert  # records it and enqueues delivery; imports plugin.jobs

    alert_id = raise_alert(conn, alert)
    set_cause_alert(conn, cause.key, alert_id)
    return alert_id
