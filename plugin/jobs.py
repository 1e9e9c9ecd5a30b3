"""Calls into Label Studio that the worker owes, kept in the store so none is forgotten.

A job is enqueued in the same transaction as the event that made it necessary (so a crash can
neither lose it nor run it for an event that was rolled back), under a dedupe key (so replaying
the event enqueues nothing new), and run afterwards, outside any transaction. A job whose call
fails because Label Studio is down or slow stays pending and is retried with back-off (longer if
Label Studio asks, ``Retry-After``), up to ``worker.job_max_attempts`` attempts; a call Label Studio
refuses for good (a 4xx other than 408 and 429) fails the job at once. A job that fails for good is
recorded (``status`` failed, ``last_error``) and alerted, once per project and job kind until a job
of that kind succeeds again (docs/alerts.md).

Several workers (several ``lsqa serve`` on one PostgreSQL) share the jobs: a worker claims the jobs
it runs for a lease (``plugin.store.job_claims``) and renews it from a thread while they run
(:class:`JobLeaseKeeper`), however long Label Studio takes, so no other worker runs a job twice
meanwhile; a worker that dies stops renewing, and its jobs are taken again once the lease runs out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, func, select, update

from plugin.alerts import Alert, raise_alert_once
from plugin.attempts import Attempt, running_attempt
from plugin.store import Store
from plugin.store.alert_causes import clear_cause
from plugin.store.dialect import insert
from plugin.store.job_claims import PENDING, Job, claim_due_jobs, renew_job_claims
from plugin.store.schema import jobs
from plugin.store.timestamps import as_utc

log = logging.getLogger(__name__)
# A running job's claim; renewed every quarter of it, so a dead worker's jobs wait about this long.
RUNNING_LEASE = timedelta(minutes=2)

DONE, FAILED = "done", "failed"
BACKOFF_SECONDS = (2, 5, 15, 30, 60, 120, 300, 600, 1200, 1800)
MAX_RETRY_AFTER = 3600.0  # seconds: a longer Retry-After is capped
MAX_ATTEMPTS = 20  # default of worker.job_max_attempts: about six hours of back-off
UNALERTED_KINDS = frozenset({"send_alert"})  # an alert about failing alerts would go the same way


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


def finish_job(conn: Connection, job_id: int, status: str = DONE, note: str | None = None) -> None:
    """Record a job's outcome. A failure is alerted (once per project and kind); a success ends
    that alert's episode, so the next failure of the kind alerts again."""
    conn.execute(
        update(jobs).where(jobs.c.id == job_id).values(status=status, last_error=note, claimed_by=None)
    )
    if status not in (DONE, FAILED):
        return
    row = conn.execute(
        select(jobs.c.kind, jobs.c.project_id, jobs.c.attempts).where(jobs.c.id == job_id)
    ).first()
    if row is None or row.kind in UNALERTED_KINDS:
        return
    if status == DONE:
        clear_cause(conn, failure_cause(row.project_id, row.kind))
    else:
        alert_job_failure(conn, job_id, row.kind, row.project_id, row.attempts, note or "")


def failure_cause(project_id: int | None, kind: str) -> str:
    return f"job_failed:{project_id}:{kind}"


def alert_job_failure(
    conn: Connection, job_id: int, kind: str, project_id: int | None, attempts: int, error: str
) -> int | None:
    alert = Alert(
        kind="job_failed",
        severity="critical",
        project_id=project_id,
        title=f"Project {project_id}: a {kind} job failed for good",
        text=(
            f"{error[:500]}. It will not be retried; later {kind} jobs that fail the same way are "
            "counted, not alerted, until one succeeds."
        ),
        details={"job": job_id, "job kind": kind, "attempts": attempts},
    )
    return raise_alert_once(conn, failure_cause(project_id, kind), alert)


def postpone_job(
    conn: Connection, job: Job, error: str, max_attempts: int | None = None, delay: float | None = None
) -> str:
    """Count a failed attempt and schedule the next after back-off (at least ``delay`` seconds, as
    Label Studio's ``Retry-After`` asks); after ``max_attempts`` attempts the job fails for good."""
    attempts = job.attempts + 1
    backoff = float(BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])
    wait = max(backoff, min(delay or 0.0, MAX_RETRY_AFTER))
    if max_attempts is not None and attempts >= max_attempts:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(attempts=attempts))
        finish_job(conn, job.id, FAILED, f"gave up after {attempts} attempts: {error}"[:2000])
        return FAILED
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            attempts=attempts,
            status=PENDING,
            last_error=error[:2000],
            run_after=datetime.now(UTC) + timedelta(seconds=wait),
            claimed_by=None,  # the claimant's renewals no longer touch it (plugin.store.job_claims)
        )
    )
    return PENDING


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
    """A job's outside call failed in a way worth retrying (Label Studio down or slow, ...);
    ``delay``: the least number of seconds to wait (Label Studio's ``Retry-After``)."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class JobFailed(Exception):
    """A job's outside call failed for good (Label Studio refused it: 400, 403, 404, ...)."""


def retry_when_unreachable(run: Callable[[Job], None]) -> Callable[[Job], None]:
    """A job handler whose Label Studio failures (``LabelStudioError``) are retried with back-off
    when they are worth it (``retryable``) and fail the job otherwise."""

    def handler(job: Job) -> None:
        from plugin.labelstudio import LabelStudioError  # the SDK is heavy to import; only when needed

        try:
            run(job)
        except LabelStudioError as exc:
            if exc.final:
                raise JobFailed(str(exc)) from exc
            raise RetryLater(str(exc), delay=exc.retry_after) from exc

    return handler


def run_due_jobs(
    store: Store,
    handlers: Mapping[str, Callable[[Job], None]],
    limit: int = 20,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    holder: str | None = None,
    lease: timedelta = RUNNING_LEASE,
) -> int:
    """Run the jobs that are due, each by the handler of its kind; returns how many were claimed.

    A handler finishes its job itself (``finish_job``) in the transaction that records the outcome;
    raising :class:`RetryLater` postpones it with back-off, :class:`JobFailed` fails it. The jobs are
    claimed for ``holder`` (default: this host, process and call) for a ``lease`` that is renewed
    until each has run, so no other worker takes one meanwhile, and a crashed run is retried. Each
    handler runs inside :func:`plugin.attempts.running_attempt`, which lets the adapter check, on a
    retry, whether a create sent before took effect.
    """
    holder = holder or claimant()
    now = datetime.now(UTC)
    with store.begin() as conn:
        claimed = claim_due_jobs(conn, holder, now + lease, now, limit)
    if not claimed:
        return 0
    with JobLeaseKeeper(store, holder, (job.id for job in claimed), lease) as keeper:
        for job in claimed:
            handler = handlers.get(job.kind)
            if handler is None:
                with store.begin() as conn:
                    finish_job(conn, job.id, FAILED, f"no handler for job kind {job.kind!r}")
            else:
                run_job(store, job, handler, max_attempts)
            keeper.release(job.id)
    return len(claimed)


def claimant() -> str:
    """A name for one claim on jobs, that says who holds it: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[-160:]


class JobLeaseKeeper:
    """Renews ``holder``'s claims on the jobs it has not run yet from a thread, every quarter
    ``lease``, from entering until leaving; a job is dropped from it by :meth:`release`.

    A renewal that fails is retried at the next turn (the lease outlives three misses); renewals
    are fenced in the store, so one that lands after the job was finished or postponed changes
    nothing."""

    def __init__(
        self, store: Store, holder: str, ids: Iterable[int], lease: timedelta = RUNNING_LEASE
    ) -> None:
        self.store, self.holder, self.lease = store, holder, lease
        self._ids = set(ids)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lsqa-job-lease", daemon=True)

    def __enter__(self) -> JobLeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def release(self, job_id: int) -> None:
        with self._lock:
            self._ids.discard(job_id)

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 4):
            with self._lock:
                ids = sorted(self._ids)
            if not ids:
                continue
            try:
                with self.store.begin() as conn:
                    renew_job_claims(conn, ids, self.holder, datetime.now(UTC) + self.lease)
            except Exception as exc:  # the next turn tries again
                log.warning("job lease renewal failed: %s", type(exc).__name__)


def run_job(store: Store, job: Job, handler: Callable[[Job], None], max_attempts: int = MAX_ATTEMPTS) -> None:
    """Run one claimed job: postpone it on :class:`RetryLater`, fail it for good on :class:`JobFailed`
    (or on a RetryLater caused by a final Label Studio error)."""
    since = as_utc(job.created_at) if job.created_at else None
    try:
        with running_attempt(Attempt(job.dedupe_key or f"job:{job.id}", job.attempts + 1, since)):
            handler(job)
    except JobFailed as exc:
        fail_job(store, job, str(exc))
    except RetryLater as exc:
        # A handler of its own (not wrapped above) may turn a final Label Studio refusal into RetryLater.
        if getattr(exc.__cause__, "final", False):
            fail_job(store, job, str(exc))
            return
        delay = exc.delay if exc.delay is not None else getattr(exc.__cause__, "retry_after", None)
        with store.begin() as conn:
            status = postpone_job(conn, job, str(exc), max_attempts, delay)
        log.warning("job %d (%s) postponed (%s): %s", job.id, job.kind, status, exc)


def fail_job(store: Store, job: Job, error: str) -> None:
    """Fail a claimed job for good: recorded on the job, alerted once per project and kind."""
    with store.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(attempts=job.attempts + 1))
        finish_job(conn, job.id, FAILED, error[:2000])
    log.error("job %d (%s) failed for good: %s", job.id, job.kind, error)
