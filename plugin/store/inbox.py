"""The durable inbox: raw webhook events, written before we acknowledge, processed later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from plugin.store.dialect import insert_for
from plugin.store.schema import inbox, processed_events
from plugin.store.timestamps import as_utc

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class InboxEvent:
    dedupe_key: str
    action: str
    project_id: int | None
    body: str


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    action: str
    body: str
    attempts: int


@cache
def _append_statement(dialect: str) -> Any:
    # Built once per dialect: constructing the statement costs more than running it.
    stmt = insert_for(dialect, inbox).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return stmt.returning(inbox.c.dedupe_key)


def append_events(conn: Connection, events: list[InboxEvent]) -> list[bool]:
    """Insert events in one statement; for each, True if new, False if its dedupe key was known."""
    now = datetime.now(UTC)
    rows = [
        {
            "dedupe_key": e.dedupe_key,
            "action": e.action,
            "project_id": e.project_id,
            "received_at": now,
            "body": e.body,
            "status": PENDING,
            "attempts": 0,
        }
        for e in events
    ]
    new = set(conn.execute(_append_statement(conn.dialect.name), rows).scalars())
    seen: set[str] = set()
    inserted = []
    for event in events:  # the same event twice in one batch: the first one counts
        inserted.append(event.dedupe_key in new and event.dedupe_key not in seen)
        seen.add(event.dedupe_key)
    return inserted


def claim_pending(conn: Connection, limit: int, among: list[int] | None = None) -> list[ClaimedEvent]:
    """Lock up to ``limit`` pending events (optionally only ``among`` these ids), oldest first.

    On PostgreSQL the rows stay locked until the transaction ends and other workers skip them
    (``FOR UPDATE SKIP LOCKED``); on SQLite the transaction already holds the database write lock.
    """
    query = select(inbox.c.id, inbox.c.action, inbox.c.body, inbox.c.attempts).where(
        inbox.c.status == PENDING
    )
    if among is not None:
        query = query.where(inbox.c.id.in_(among))
    query = query.order_by(inbox.c.id).limit(limit).with_for_update(skip_locked=True)
    return [ClaimedEvent(*row) for row in conn.execute(query)]


def peek_pending(conn: Connection, limit: int) -> list[ClaimedEvent]:
    """The oldest pending events, read without locking anything."""
    query = (
        select(inbox.c.id, inbox.c.action, inbox.c.body, inbox.c.attempts)
        .where(inbox.c.status == PENDING)
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [ClaimedEvent(*row) for row in conn.execute(query)]


def mark_done(conn: Connection, event_ids: list[int], worker_id: str) -> None:
    if not event_ids:
        return
    conn.execute(
        update(inbox)
        .where(inbox.c.id.in_(event_ids), inbox.c.status == PENDING)
        .values(
            status=DONE,
            attempts=inbox.c.attempts + 1,
            processed_at=datetime.now(UTC),
            processed_by=worker_id,
            error=None,
        )
    )


def processed_among(conn: Connection, event_ids: list[int]) -> set[int]:
    """Which of these events the database has already applied (read on the database, not the inbox)."""
    if not event_ids:
        return set()
    query = select(processed_events.c.event_id).where(processed_events.c.event_id.in_(event_ids))
    return set(conn.execute(query).scalars())


def mark_processed(conn: Connection, event_ids: list[int]) -> None:
    """Record, in the transaction that applied them, that these events' effects are in the database."""
    if event_ids:
        conn.execute(insert_for(conn.dialect.name, processed_events), [{"event_id": i} for i in event_ids])


def record_failure(conn: Connection, event_id: int, error: str, max_attempts: int) -> str:
    """Count a failed attempt; park the event as failed once it has used up its attempts."""
    attempts = conn.execute(select(inbox.c.attempts).where(inbox.c.id == event_id)).scalar_one() + 1
    status = FAILED if attempts >= max_attempts else PENDING
    conn.execute(
        update(inbox)
        .where(inbox.c.id == event_id)
        .values(attempts=attempts, status=status, error=error[:2000])
    )
    return status


def max_event_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(inbox.c.id), 0))).scalar_one()


def backlog(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(inbox.c.status, func.count()).where(inbox.c.status != DONE).group_by(inbox.c.status)
    )
    counts = {PENDING: 0, FAILED: 0}
    counts.update({status: n for status, n in rows})
    return counts


def retry_failed(conn: Connection) -> int:
    result = conn.execute(update(inbox).where(inbox.c.status == FAILED).values(status=PENDING, attempts=0))
    return result.rowcount


def erase_bodies(conn: Connection, after_id: int, before: datetime, limit: int) -> tuple[int, bool, int]:
    """Erase the raw bodies of events done before ``before``, looking at up to ``limit`` events in id
    order after ``after_id``; rows and dedupe keys stay, failed events keep their bodies. Returns the
    last id passed, whether the walk is over (it stops at the first event not yet due), and how many
    bodies were erased."""
    rows = conn.execute(
        select(inbox.c.id, inbox.c.status, inbox.c.processed_at, inbox.c.body == "")
        .where(inbox.c.id > after_id)
        .order_by(inbox.c.id)
        .limit(limit)
    ).all()
    due, over = [], len(rows) < limit
    for event_id, status, processed_at, erased in rows:
        if status == PENDING or (status == DONE and processed_at and as_utc(processed_at) >= before):
            over = True
            break
        if status == DONE and not erased:
            due.append(event_id)
        after_id = event_id
    if due:
        conn.execute(update(inbox).where(inbox.c.id.in_(due)).values(body=""))
    return after_id, over, len(due)


def forget_processed(conn: Connection, below: int) -> int:
    """Drop processed_events rows under ``below`` (the oldest pending event): no longer needed."""
    return conn.execute(delete(processed_events).where(processed_events.c.event_id < below)).rowcount


def oldest_pending(conn: Connection) -> int | None:
    return conn.execute(select(func.min(inbox.c.id)).where(inbox.c.status == PENDING)).scalar_one()


def event_arrived(conn: Connection, action: str, project_id: int, after_id: int) -> bool:
    """Whether an event of ``action`` for the project came in after inbox id ``after_id``."""
    query = select(inbox.c.id).where(
        inbox.c.id > after_id, inbox.c.action == action, inbox.c.project_id == project_id
    )
    return conn.execute(query.limit(1)).first() is not None
