"""Jobs shared by several workers (two ``lsqa serve`` on one database): each runs once.

Every "worker" here has a Store of its own on the same database, as two processes would.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from plugin.jobs import Job, enqueue_job, finish_job, postpone_job, run_due_jobs
from plugin.store import Store
from plugin.store.job_claims import claim_due_jobs, renew_job_claims
from plugin.store.schema import jobs
from plugin.store.timestamps import as_utc

LEASE = timedelta(seconds=1)  # renewed every 0.25 s


@pytest.fixture
def stores(store_url: str) -> Iterator[tuple[Store, Store]]:
    """Two workers' stores on one migrated database."""
    first, second = Store(store_url), Store(store_url)
    first.migrate()
    yield first, second
    first.dispose()
    second.dispose()


def enqueue(store: Store, n: int) -> None:
    with store.begin() as conn:
        for i in range(n):
            enqueue_job(conn, "work", f"work:{i}", {"i": i}, project_id=1)


def recording(store: Store, runs: list[tuple[str, int]], name: str, seconds: float = 0.0) -> Callable:
    """A handler that notes who ran which job, takes ``seconds``, and finishes the job."""

    def handle(job: Job) -> None:
        runs.append((name, job.id))
        time.sleep(seconds)
        with store.begin() as conn:
            finish_job(conn, job.id)

    return handle


def job_rows(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(jobs).order_by(jobs.c.id)).mappings()]


def test_job_that_outlives_its_lease_is_not_run_twice(stores):
    first, second = stores
    enqueue(first, 1)
    runs: list[tuple[str, int]] = []
    slow = recording(first, runs, "first", seconds=4 * LEASE.total_seconds())
    running = threading.Thread(target=run_due_jobs, args=(first, {"work": slow}), kwargs={"lease": LEASE})
    running.start()
    while not runs:
        time.sleep(0.01)
    while running.is_alive():  # the second worker keeps looking while the first one's job runs
        run_due_jobs(second, {"work": recording(second, runs, "second")}, lease=LEASE)
        time.sleep(0.05)
    running.join()

    assert runs == [("first", 1)]
    (row,) = job_rows(first)
    assert row["status"] == "done" and row["claimed_by"] is None


def test_crashed_claimant_job_is_taken_again_after_the_lease(stores):
    first, second = stores
    enqueue(first, 1)
    now = datetime.now(UTC)
    with first.begin() as conn:  # the first worker claims the job and dies: nobody renews its claim
        (claimed,) = claim_due_jobs(conn, "first:dead", now + LEASE, now, 10)
    runs: list[tuple[str, int]] = []
    handlers = {"work": recording(second, runs, "second")}

    assert run_due_jobs(second, handlers, lease=LEASE) == 0  # the claim still holds
    time.sleep(LEASE.total_seconds() + 0.1)
    assert run_due_jobs(second, handlers, lease=LEASE) == 1

    assert runs == [("second", claimed.id)]
    assert job_rows(second)[0]["status"] == "done"


def test_workers_claiming_together_run_each_job_once(stores):
    enqueue(stores[0], 60)
    runs: list[tuple[str, int]] = []

    def work(store: Store, name: str) -> None:
        handlers = {"work": recording(store, runs, name, seconds=0.005)}
        while run_due_jobs(store, handlers, limit=4, lease=LEASE):
            pass

    workers = [threading.Thread(target=work, args=(store, f"w{i}")) for i, store in enumerate(stores)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(job_id for _, job_id in runs) == [row["id"] for row in job_rows(stores[0])]
    assert len(runs) == 60 and {row["status"] for row in job_rows(stores[0])} == {"done"}
    assert set(Counter(name for name, _ in runs)) <= {"w0", "w1"}


def test_renewal_touches_only_its_own_pending_claims(store):
    enqueue(store, 2)
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    with store.begin() as conn:
        postponed, taken_over = claim_due_jobs(conn, "first", now - timedelta(seconds=1), now, 10)
        postpone_job(conn, postponed, "Label Studio is down")
        claim_due_jobs(conn, "second", now + LEASE, now, 10)  # the first's claim had expired

        assert renew_job_claims(conn, [postponed.id, taken_over.id], "first", later) == 0
        assert renew_job_claims(conn, [taken_over.id], "second", later) == 1
    first_row, second_row = job_rows(store)
    assert first_row["claimed_by"] is None and as_utc(first_row["run_after"]) < later
    assert second_row["claimed_by"] == "second" and as_utc(second_row["run_after"]) == later


def test_relabel_push_runs_its_job_unless_a_worker_holds_it(store, monkeypatch):
    from plugin.relabel import cli

    monkeypatch.setattr(cli, "_wait_for_worker", lambda store, key: False)
    enqueue(store, 2)
    now = datetime.now(UTC)
    with store.begin() as conn:  # the service's worker is running the first one
        (held,) = claim_due_jobs(conn, "service", now + LEASE, now, 1)
    runs: list[tuple[str, int]] = []
    handlers = {"work": recording(store, runs, "push")}

    note = cli._run_claimed(store, handlers, ["work:0", "work:1"])

    assert runs == [("push", held.id + 1)] and "still running in the service's worker" in note
    assert [(row["status"], row["claimed_by"]) for row in job_rows(store)] == [
        ("pending", "service"),
        ("done", None),
    ]
