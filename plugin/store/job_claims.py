"""Claims on jobs: which worker runs a pending job, and until when nobody else may.

A claim writes the claimant into ``claimed_by`` and pushes ``run_after`` to the end of its lease,
so the job is not due for anyone else meanwhile. The claimant renews the lease while the job runs
(:class:`plugin.jobs.JobLeaseKeeper`); a claimant that dies stops renewing and the job is due again
once the lease runs out. Taking is atomic across processes: on PostgreSQL the due rows are locked
(``FOR UPDATE SKIP LOCKED``, so two workers never wait for or take the same row), on SQLite the
transaction holds the write lock from its start. Renewal is fenced on the claimant and on the job
still pending, so it can neither revive a job that was finished or postponed, nor extend a claim
another worker took over.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from plugin.store.schema import jobs

PENDING = "pending"


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    project_id: int | None
    payload: dict[str, Any]
    attempts: int
    dedupe_key: str = ""
    created_at: datetime | None = None


_JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.kind,
    jobs.c.project_id,
    jobs.c.payload,
    jobs.c.attempts,
    jobs.c.dedupe_key,
    jobs.c.created_at,
)


def claim_due_jobs(conn: Connection, holder: str, until: datetime, now: datetime, limit: int) -> list[Job]:
    """Claim up to ``limit`` pending jobs that are due at ``now`` (oldest first) for ``holder``
    until ``until``; rows another transaction is claiming are skipped, not waited for."""
    query = (
        select(*_JOB_COLUMNS)
        .where(jobs.c.status == PENDING, jobs.c.run_after <= now)
        .order_by(jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [Job(*row) for row in conn.execute(query)]
    if claimed:
        ids = [job.id for job in claimed]
        conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(run_after=until, claimed_by=holder))
    return claimed


def claim_job(conn: Connection, dedupe_key: str, holder: str, until: datetime, now: datetime) -> Job | None:
    """Claim the job ``dedupe_key`` if it is pending and due; None if it is not (another worker
    holds it, it ran already, or it waits for a retry)."""
    row = conn.execute(
        update(jobs)
        .where(jobs.c.dedupe_key == dedupe_key, jobs.c.status == PENDING, jobs.c.run_after <= now)
        .values(run_after=until, claimed_by=holder)
        .returning(*_JOB_COLUMNS)
    ).first()
    return Job(*row) if row is not None else None


def renew_job_claims(conn: Connection, ids: Collection[int], holder: str, until: datetime) -> int:
    """Extend ``holder``'s claims on the jobs ``ids`` that are still pending and still its own;
    returns how many were extended."""
    if not ids:
        return 0
    renewed = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(list(ids)), jobs.c.claimed_by == holder, jobs.c.status == PENDING)
        .values(run_after=until)
    )
    return int(renewed.rowcount)
