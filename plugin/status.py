"""What the store holds for a project: the first thing a user checks."""

from typing import Any

from sqlalchemy import Connection, and_, func, select

from plugin.gold.ledger import LIVE_STATES
from plugin.store.inbox import backlog
from plugin.store.schema import annotations, gold_copies, inbox, projects, tasks


def project_status(conn: Connection, inbox_conn: Connection, project_id: int) -> dict[str, Any]:
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
    ]
    if not status["known"]:
        lines.append("  (nothing stored yet: run `lsqa connect --project ID`)")
    return "\n".join(lines)
