"""Causes of alerts and their episodes, so that each cause raises one alert, not one per event.

An episode of a cause starts the first time it is noted (or the first time after it was cleared)
and lasts until :func:`clear_cause`; :func:`claim_alert` lets exactly one caller raise its alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from plugin.store.dialect import insert
from plugin.store.schema_alerts import alert_causes, alert_deliveries
from plugin.store.timestamps import as_utc


@dataclass(frozen=True)
class Cause:
    key: str
    first_seen_at: datetime  # start of the current episode
    occurrences: int  # times noted in the current episode
    alerted: bool  # the episode's alert is raised already


def note_cause(
    conn: Connection, key: str, *, project_id: int | None = None, now: datetime | None = None
) -> Cause:
    """Record that ``key`` holds now; starts a new episode if none is open."""
    now = now or datetime.now(UTC)
    fresh = {"first_seen_at": now, "last_seen_at": now, "occurrences": 1, "raised_at": None, "alert_id": None}
    stmt = insert(conn, alert_causes).values(cause_key=key, project_id=project_id, **fresh)
    stmt = stmt.on_conflict_do_nothing(index_elements=["cause_key"]).returning(alert_causes.c.cause_key)
    if conn.execute(stmt).first() is not None:
        return Cause(key, now, 1, False)
    row = (
        conn.execute(select(alert_causes).where(alert_causes.c.cause_key == key).with_for_update())
        .mappings()
        .one()
    )
    if row["cleared_at"] is not None:
        values = {**fresh, "cleared_at": None}
    else:
        values = {"last_seen_at": now, "occurrences": row["occurrences"] + 1}
    conn.execute(update(alert_causes).where(alert_causes.c.cause_key == key).values(**values))
    if row["cleared_at"] is not None:
        return Cause(key, now, 1, False)
    return Cause(key, as_utc(row["first_seen_at"]), row["occurrences"] + 1, row["raised_at"] is not None)


def claim_alert(conn: Connection, key: str, now: datetime | None = None) -> bool:
    """Mark the open episode of ``key`` as alerted; True for the one caller that did it first."""
    result = conn.execute(
        update(alert_causes)
        .where(
            alert_causes.c.cause_key == key,
            alert_causes.c.raised_at.is_(None),
            alert_causes.c.cleared_at.is_(None),
        )
        .values(raised_at=now or datetime.now(UTC))
    )
    return bool(result.rowcount)


def set_cause_alert(conn: Connection, key: str, alert_id: int) -> None:
    conn.execute(update(alert_causes).where(alert_causes.c.cause_key == key).values(alert_id=alert_id))


def clear_cause(conn: Connection, key: str, now: datetime | None = None) -> bool:
    """End the open episode of ``key``; the next time it is noted, it may alert again."""
    result = conn.execute(
        update(alert_causes)
        .where(alert_causes.c.cause_key == key, alert_causes.c.cleared_at.is_(None))
        .values(cleared_at=now or datetime.now(UTC))
    )
    return bool(result.rowcount)


def open_causes(conn: Connection, prefix: str) -> list[str]:
    """Keys of the causes starting with ``prefix`` whose episode is open."""
    query = select(alert_causes.c.cause_key).where(
        alert_causes.c.cause_key.startswith(prefix, autoescape=True), alert_causes.c.cleared_at.is_(None)
    )
    return list(conn.execute(query).scalars())


def record_delivery_attempt(
    conn: Connection,
    alert_id: int,
    attempt: int,
    deliveries: list[dict[str, object]],
    now: datetime | None = None,
) -> None:
    """Keep each channel's outcome of one delivery attempt (channel, target, delivered, error)."""
    now = now or datetime.now(UTC)
    for d in deliveries:
        conn.execute(
            alert_deliveries.insert().values(alert_id=alert_id, attempt=attempt, attempted_at=now, **d)
        )


def delivered_channels(conn: Connection, alert_id: int) -> set[str]:
    """The channels an alert reached in any attempt so far."""
    query = select(alert_deliveries.c.channel).where(
        alert_deliveries.c.alert_id == alert_id, alert_deliveries.c.delivered.is_(True)
    )
    return set(conn.execute(query).scalars())


def delivery_attempts(conn: Connection, alert_id: int) -> list[dict[str, object]]:
    """Every recorded attempt for an alert, in order."""
    query = (
        select(alert_deliveries)
        .where(alert_deliveries.c.alert_id == alert_id)
        .order_by(alert_deliveries.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
