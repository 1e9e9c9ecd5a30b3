"""The ``send_alert`` job: deliver a recorded alert, retrying failed channels with back-off.

Each attempt's outcome per channel is kept (``alert_deliveries``); the alert row's ``delivered``
holds the latest outcome per channel. A retry only tries the channels not reached yet, so a Slack
message is not repeated because e-mail failed. After ``alerts.delivery_attempts`` attempts the job
fails for good, recorded on the job and in the log (not alerted: the alert would go the same way).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select, update

from plugin.alerts import Alert, AlertSettings, configured_channels, deliver_alert
from plugin.audit import trail_facts
from plugin.jobs import FAILED, Job, RetryLater, finish_job
from plugin.store import Store
from plugin.store.alert_causes import delivered_channels, delivery_attempts, record_delivery_attempt
from plugin.store.schema import alerts

DELIVERY_ATTEMPTS = 6  # default of alerts.delivery_attempts: the job back-off makes that ~4 minutes


def send_alert_job(
    store: Store, settings: AlertSettings, job: Job, *, attempts: int = DELIVERY_ATTEMPTS
) -> None:
    """Deliver the alert named by ``job.payload["alert_id"]`` to the channels it has not reached."""
    alert_id = int(job.payload["alert_id"])
    with store.read() as conn:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
        reached = delivered_channels(conn, alert_id)
    details = dict(row["details"])
    alert = Alert(
        row["kind"], row["severity"], row["project_id"], row["title"], details.pop("text", ""), details
    )
    wanted = [c for c in configured_channels(settings) if c not in reached]
    record = deliver_alert(alert, settings, channels=wanted)
    attempt = job.attempts + 1
    failed = [d for d in record.deliveries if not d.delivered]
    with store.begin() as conn:
        record_delivery_attempt(conn, alert_id, attempt, [asdict(d) for d in record.deliveries])
        latest = _latest_per_channel(delivery_attempts(conn, alert_id))
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(delivered=latest))
        trail_facts.alert_sent(conn, alert_id, record)
        if not failed:
            finish_job(conn, job.id)
        elif attempt >= attempts:
            finish_job(conn, job.id, FAILED, f"not delivered after {attempt} attempts: {_describe(failed)}")
    if failed and attempt < attempts:
        raise RetryLater(f"alert {alert_id} not delivered: {_describe(failed)}")


def _latest_per_channel(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:  # in attempt order: a later attempt replaces an earlier one
        latest[r["channel"]] = {k: r[k] for k in ("channel", "target", "delivered", "error")}
    return list(latest.values())


def _describe(failed: list[Any]) -> str:
    return "; ".join(f"{d.channel} to {d.target}: {d.error}" for d in failed)
