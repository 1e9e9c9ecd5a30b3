"""Calls into Label Studio that the worker owes, kept in the store so none is forgotten.

A job is enqueued in the same transaction as the event that made it necessary (so a crash can
neither lose it nor run it for an event that was rolled back), under a dedupe key (so replaying
the event enqueues nothing new), and run afterwards, outside any transaction. A job whose call
fails because Label Studio is down or slow stays pending and is retried with back-off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from plugin.store import Store
from plugin.store.dialect import insert
from plugin.store.schema import jobs

log = logging.getLogger(__name__)
RUNNING_LEASE = timedelta(minutes=10)

PENDING, DONE, FAILED = "pending", "done", "failed"
BACKOFF_SECONDS = (2, 5, 15, 30, 60, 120, 300)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    project_id: int | None
    payload: dict[str, Any]
    attempts: int


def enqueue_job(
    conn: Connection, kind: str, dedupe_key: str, payload: dict[str, Any], *, project_id: int | None = None
) -> bool:
    """Add a job unless one with this key exists; True if it was added."""
    now = datetime.now(UTC)
    stmt = (
        insert(conn, jobs)
        .values(
            dedupe_key=dedupe_key,
            kind=kind,
            project_id=project_id,
            payload=payload,
            status=PENDING,
            attempts=0,
            run_after=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(jobs.c.id)
    )
    return conn.execute(stmt).first() is not None


def due_jobs(conn: Connection, limit: int, now: datetime | None = None) -> list[Job]:
    now = now or datetime.now(UTC)
    query = (
        select(jobs.c.id, jobs.c.kind, jobs.c.project_id, jobs.c.payload, jobs.c.attempts)
        .where(jobs.c.status == PENDING, jobs.c.run_after <= now)
        .order_by(jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Job(*row) for row in conn.execute(query)]


def finish_job(conn: Connection, job_id: int, status: str = DONE, note: str | None = None) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(status=status, last_error=note))


def postpone_job(conn: Connection, job: Job, error: str, max_attempts: int | None = None) -> str:
    attempts = job.attempts + 1
    delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    status = FAILED if max_attempts is not None and attempts >= max_attempts else PENDING
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            attempts=attempts,
            status=status,
            last_error=error[:2000],
            run_after=datetime.now(UTC) + timedelta(seconds=delay),
        )
    )
    return status


def count_jobs(conn: Connection, kind: str, key_prefix: str) -> int:
    """How many jobs of a kind were ever enqueued under keys starting with ``key_prefix``."""
    query = select(func.count()).where(jobs.c.kind == kind, jobs.c.dedupe_key.startswith(key_prefix))
    return int(conn.execute(query).scalar_one())


def pending_jobs(conn: Connection, kind: str, key_prefix: str) -> int:
    """How many jobs of a kind under keys starting with ``key_prefix`` have not run yet."""
    query = select(func.count()).where(
        jobs.c.kind == kind, jobs.c.status == PENDING, jobs.c.dedupe_key.startswith(key_prefix)
    )
    return int(conn.execute(query).scalar_one())


class RetryLater(Exception):
    """A job's outside call failed in a way worth retrying (Label Studio down or slow, ...)."""


def retry_when_unreachable(run: Callable[[Job], None]) -> Callable[[Job], None]:
    """A job handler whose Label Studio failures (``LabelStudioError``) are retried with back-off."""

    def handler(job: Job) -> None:
        from plugin.labelstudio import LabelStudioError  # the SDK is heavy to import; only when needed

        try:
            run(job)
        except LabelStudioError as exc:
            raise RetryLater(str(exc)) from exc

    return handler


def run_due_jobs(store: Store, handlers: Mapping[str, Callable[[Job], None]], limit: int = 20) -> int:
    """Run the jobs that are due, each by the handler of its kind; returns how many were claimed.

    A handler finishes its job itself (``finish_job``) in the transaction that records the outcome;
    raising :class:`RetryLater` postpones it with back-off. Claiming pushes ``run_after`` past a
    lease, so another worker does not take the job meanwhile, and a crashed run is retried.
    """
    with store.begin() as conn:
        claimed = due_jobs(conn, limit)
        for job in claimed:
            conn.execute(
                update(jobs).where(jobs.c.id == job.id).values(run_after=datetime.now(UTC) + RUNNING_LEASE)
            )
    for job in claimed:
        handler = handlers.get(job.kind)
        if handler is None:
            with store.begin() as conn:
                finish_job(conn, job.id, FAILED, f"no handler for job kind {job.kind!r}")
            continue
        try:
            handler(job)
        except RetryLater as exc:
            with store.begin() as conn:
                status = postpone_job(conn, job, str(exc))
            log.warning("job %d (%s) postponed (%s): %s", job.id, job.kind, status, exc)
    return len(claimed)
