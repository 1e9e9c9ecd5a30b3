"""What the store holds for a project, and how the worker is doing: the first thing a user checks."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from plugin.store.gold_copies import LIVE_STATES
from plugin.store.heartbeats import worker_pulse
from plugin.store.inbox import backlog, oldest_pending_received
from plugin.store.schema import annotations, gold_copies, inbox, projects, tasks

OK, STUCK, SILENT = "ok", "stuck", "worker silent"


def worker_health(
    conn: Connection, inbox_conn: Connection, stuck_after: float, now: datetime | None = None
) -> dict[str, Any]:
    """Is the worker alive and getting through the inbox? ``state`` is ``ok``, ``stuck`` (events
    have waited ``stuck_after`` seconds and no worker got through the inbox for as long) or
    ``worker silent`` (the last worker seen has not beaten for as long: it died without stopping).
    Ages are in seconds, None for never; ``parked`` counts the events given up on."""
    now = now or datetime.now(UTC)
    pulse = worker_pulse(conn)
    counts = backlog(inbox_conn)
    oldest, beat, progress = (
        _age(now, t) for t in (oldest_pending_received(inbox_conn), pulse.beat_at, pulse.progress_at)
    )
    waiting = oldest is not None and oldest > stuck_after
    if beat is not None and beat > stuck_after:
        state = SILENT
    elif waiting and (progress is None or progress > stuck_after):
        state = STUCK
    else:
        state = OK
    return {
        "state": state,
        "pending": counts["pending"],
        "parked": counts["failed"],
        "oldest_pending_age_seconds": oldest,
        "worker_seen_seconds_ago": beat,
        "worker_progress_seconds_ago": progress,
        "stuck_after_seconds": stuck_after,
    }


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max((now - then).total_seconds(), 0.0), 1)


def project_status(
    conn: Connection, inbox_conn: Connection, project_id: int, stuck_after: float = 300.0
) -> dict[str, Any]:
    """``conn`` reads the database, ``inbox_conn`` the inbox (the same connection unless the inbox
    has a file of its own)."""
    project = conn.execute(select(projects).where(projects.c.id == project_id)).mappings().first()
    # Our hidden gold copies and the helper skips on them are not anybody's work.
    copies = select(gold_copies.c.task_id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state.in_(LIVE_STATES),
        gold_copies.c.task_id.is_not(None),
    )
    live = and_(
        annotations.c.project_id == project_id,
        annotations.c.deleted.is_(False),
        annotations.c.task_id.not_in(copies),
    )
    submitted = and_(live, annotations.c.was_cancelled.is_(False))
    n_tasks = conn.execute(
        select(func.count()).where(
            tasks.c.project_id == project_id, tasks.c.deleted.is_(False), tasks.c.id.not_in(copies)
        )
    ).scalar_one()
    counts = conn.execute(
        select(
            func.count().filter(annotations.c.was_cancelled.is_(False)),
            func.count().filter(annotations.c.was_cancelled.is_(True)),
        ).where(live)
    ).one()
    n_annotators = conn.execute(
        select(func.count(func.distinct(annotations.c.annotator_id))).where(submitted)
    ).scalar_one()
    last_event = inbox_conn.execute(
        select(func.max(inbox.c.received_at)).where(inbox.c.project_id == project_id)
    ).scalar_one()
    return {
        "project_id": project_id,
        "known": project is not None,
        "title": project["title"] if project else None,
        "connected": bool(project and project["connected"]),
        "tasks": n_tasks,
        "annotations": counts[0],
        "skipped": counts[1],
        "annotators": n_annotators,
        "last_event_at": _iso(last_event),
        "last_synced_at": _iso(project["last_synced_at"]) if project else None,
        "inbox": backlog(inbox_conn),
        "worker": worker_health(conn, inbox_conn, stuck_after),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def format_status(status: dict[str, Any]) -> str:
    title = f" ({status['title']})" if status["title"] else ""
    lines = [
        f"project {status['project_id']}{title}: {'connected' if status['connected'] else 'not connected'}",
        f"  tasks        {status['tasks']}",
        f"  annotations  {status['annotations']} submitted, {status['skipped']} skipped",
        f"  annotators   {status['annotators']}",
        f"  last event   {status['last_event_at'] or 'never'}",
        f"  last sync    {status['last_synced_at'] or 'never'}",
        f"  inbox        {status['inbox']['pending']} pending, {status['inbox']['failed']} failed",
        f"  worker       {describe_worker(status['worker'])}",
    ]
    if not status["known"]:
        lines.append("  (nothing stored yet: run `lsqa connect --project ID`)")
    return "\n".join(lines)


def describe_worker(health: dict[str, Any]) -> str:
    """One line: the worker's state, when it was last seen and moving, the oldest wait, parked events."""

    def ago(seconds: float | None) -> str:
        return "never" if seconds is None else f"{seconds:.0f} s ago"

    parts = [
        health["state"],
        f"seen {ago(health['worker_seen_seconds_ago'])}",
        f"last progress {ago(health['worker_progress_seconds_ago'])}",
    ]
    if health["oldest_pending_age_seconds"] is not None:
        parts.append(f"oldest pending event {health['oldest_pending_age_seconds']:.0f} s old")
    if health["parked"]:
        parts.append(f"{health['parked']} parked (see `lsqa inbox list`)")
    return ", ".join(parts)
