"""The durable inbox: raw webhook events, written before we acknowledge, processed later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, update

from plugin.store.dialect import insert_for
from plugin.store.schema import inbox, processed_events
from plugin.store.timestamps import as_utc

# failed: parked after its attempts, or at once when it can never succeed; dropped: by an operator
# (`lsqa inbox drop`), body erased, row and dedupe key kept so a redelivery stays a duplicate.
PENDING, DONE, FAILED, DROPPED = "pending", "done", "failed", "dropped"
MAX_RETRY_DELAY_SECONDS = 3600.0


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
        inbox.c.status == PENDING, _due()
    )
    if among is not None:
        query = query.where(inbox.c.id.in_(among))
    query = query.order_by(inbox.c.id).limit(limit).with_for_update(skip_locked=True)
    return [ClaimedEvent(*row) for row in conn.execute(query)]


def peek_pending(conn: Connection, limit: int) -> list[ClaimedEvent]:
    """The oldest pending events, read without locking anything."""
    query = (
        select(inbox.c.id, inbox.c.action, inbox.c.body, inbox.c.attempts)
        .where(inbox.c.status == PENDING, _due())
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [ClaimedEvent(*row) for row in conn.execute(query)]


def _due() -> ColumnElement[bool]:
    """Not waiting out a back-off after a failed attempt."""
    return or_(inbox.c.retry_after.is_(None), inbox.c.retry_after <= datetime.now(UTC))


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
            retry_after=None,
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


def retry_delay(attempts: int, backoff_seconds: float) -> float:
    """Seconds to wait after failed attempt number ``attempts``: doubling, at most an hour."""
    return min(backoff_seconds * 2 ** (attempts - 1), MAX_RETRY_DELAY_SECONDS)


def record_failure(
    conn: Connection,
    event_id: int,
    error: str,
    max_attempts: int,
    *,
    backoff_seconds: float = 0.0,
    permanent: bool = False,
) -> str:
    """Count a failed attempt; park the event as failed once it has used up its attempts, or at
    once if it is ``permanent``ly unreadable; otherwise it waits out a back-off before the next."""
    attempts = conn.execute(select(inbox.c.attempts).where(inbox.c.id == event_id)).scalar_one() + 1
    status = FAILED if permanent or attempts >= max_attempts else PENDING
    delay = timedelta(seconds=retry_delay(attempts, backoff_seconds))
    conn.execute(
        update(inbox)
        .where(inbox.c.id == event_id)
        .values(
            attempts=attempts,
            status=status,
            error=error[:2000],
            retry_after=datetime.now(UTC) + delay if status == PENDING else None,
        )
    )
    return status


def max_event_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(inbox.c.id), 0))).scalar_one()


def backlog(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(inbox.c.status, func.count())
        .where(inbox.c.status.in_((PENDING, FAILED)))
        .group_by(inbox.c.status)
    )
    counts = {PENDING: 0, FAILED: 0}
    counts.update({status: n for status, n in rows})
    return counts


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


def oldest_pending_received(conn: Connection) -> datetime | None:
    """When the oldest event still waiting to be processed arrived (backing-off ones included)."""
    query = select(inbox.c.received_at).where(inbox.c.status == PENDING).order_by(inbox.c.id).limit(1)
    received = conn.execute(query).scalar_one_or_none()
    return as_utc(received) if received is not None else None


def add_missing_columns(conn: Connection) -> None:
    """Bring an inbox file (SQLite) made by an older version up to the declared table."""
    present = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(inbox)")}
    if "retry_after" not in present:
        conn.exec_driver_sql("ALTER TABLE inbox ADD COLUMN retry_after DATETIME")


@dataclass(frozen=True)
class ParkedEvent:
    """An event the worker gave up on, and why (never its body: it holds annotators' work)."""

    id: int
    action: str
    project_id: int | None
    received_at: datetime
    attempts: int
    error: str | None


def list_parked(conn: Connection, limit: int | None = None) -> list[ParkedEvent]:
    query = (
        select(
            inbox.c.id,
            inbox.c.action,
            inbox.c.project_id,
            inbox.c.received_at,
            inbox.c.attempts,
            inbox.c.error,
        )
        .where(inbox.c.status == FAILED)
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [ParkedEvent(*row[:3], as_utc(row[3]), *row[4:]) for row in conn.execute(query)]


def _parked(event_ids: list[int] | None) -> ColumnElement[bool]:
    """Parked events: these (when given) or all of them."""
    condition = inbox.c.status == FAILED
    return condition if event_ids is None else condition & inbox.c.id.in_(event_ids)


def retry_parked(conn: Connection, event_ids: list[int] | None = None) -> int:
    """Put parked events (these, or all) back in line with fresh attempts; returns how many.
    Their last error stays until they succeed."""
    query = update(inbox).where(_parked(event_ids)).values(status=PENDING, attempts=0, retry_after=None)
    return conn.execute(query).rowcount


def drop_parked(conn: Connection, event_ids: list[int] | None = None, by: str = "") -> int:
    """Give up on parked events (these, or all) for good; returns how many."""
    query = (
        update(inbox)
        .where(_parked(event_ids))
        .values(status=DROPPED, body="", processed_at=datetime.now(UTC), processed_by=by[:64])
    )
    return conn.execute(query).rowcount
