"""How jobs treat Label Studio's failures: final ones fail once and alert once, others are retried."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from plugin.jobs import RetryLater, enqueue_job, retry_when_unreachable, run_due_jobs
from plugin.labelstudio import LabelStudioError
from plugin.store.schema import alerts, jobs
from plugin.store.schema_alerts import alert_causes
from plugin.store.timestamps import as_utc


def failing(error: LabelStudioError):
    calls = []

    def run(job):
        calls.append(job.id)
        raise error

    return retry_when_unreachable(run), calls


def enqueue(store, n=1, kind="create_copy", project_id=3):
    with store.begin() as conn:
        for i in range(n):
            enqueue_job(conn, kind, f"{kind}:{project_id}:{i}", {"i": i}, project_id=project_id)


def make_due(store):
    with store.begin() as conn:
        conn.execute(update(jobs).values(run_after=datetime.now(UTC) - timedelta(seconds=1)))


def rows(store, table, *where):
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_refused_call_fails_the_job_once_and_alerts_once(store, status):
    handler, calls = failing(LabelStudioError(f"Label Studio POST /api/tasks/ failed: {status}", status))
    enqueue(store, n=3)

    for _ in range(3):  # the jobs would be retried here if they were still pending
        run_due_jobs(store, {"create_copy": handler})
        make_due(store)

    assert len(calls) == 3  # each job ran once
    copies = rows(store, jobs, jobs.c.kind == "create_copy")
    assert {(j["status"], j["attempts"]) for j in copies} == {("failed", 1)}
    assert all(str(status) in j["last_error"] for j in copies)
    (alert,) = rows(store, alerts)
    assert (
        alert["kind"] == "job_failed" and alert["project_id"] == 3 and str(status) in alert["details"]["text"]
    )
    (cause,) = rows(store, alert_causes)
    assert cause["cause_key"] == "job_failed:3:create_copy" and cause["occurrences"] == 3
    assert len(rows(store, jobs, jobs.c.kind == "send_alert")) == 1


@pytest.mark.parametrize(("status", "retry_after"), [(None, None), (408, None), (429, 90.0), (503, 120.0)])
def test_unreachable_or_busy_label_studio_is_retried_honouring_retry_after(store, status, retry_after):
    handler, calls = failing(LabelStudioError("busy", status, retry_after=retry_after))
    enqueue(store)
    before = datetime.now(UTC)

    run_due_jobs(store, {"create_copy": handler})

    (job,) = rows(store, jobs, jobs.c.kind == "create_copy")
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert as_utc(job["run_after"]) >= before + timedelta(seconds=retry_after or 2)
    assert rows(store, alerts) == []


def test_a_job_that_keeps_failing_fails_for_good_after_max_attempts(store):
    handler, calls = failing(LabelStudioError("Label Studio answered 502", 502))
    enqueue(store)
    for _ in range(5):
        run_due_jobs(store, {"create_copy": handler}, max_attempts=3)
        make_due(store)

    assert len(calls) == 3
    (job,) = rows(store, jobs, jobs.c.kind == "create_copy")
    assert (job["status"], job["attempts"]) == ("failed", 3) and "gave up after 3 attempts" in job[
        "last_error"
    ]
    assert [a["kind"] for a in rows(store, alerts)] == ["job_failed"]


def test_a_success_ends_the_episode_and_the_next_failure_alerts_again(store):
    refused, _ = failing(LabelStudioError("403 Forbidden", 403))
    enqueue(store, n=1)
    run_due_jobs(store, {"create_copy": refused})

    def succeed(job):
        from plugin.jobs import finish_job

        with store.begin() as conn:
            finish_job(conn, job.id)

    with store.begin() as conn:
        enqueue_job(conn, "create_copy", "ok", {}, project_id=3)
    run_due_jobs(store, {"create_copy": succeed})
    with store.begin() as conn:
        enqueue_job(conn, "create_copy", "again", {}, project_id=3)
    run_due_jobs(store, {"create_copy": refused})

    assert [a["kind"] for a in rows(store, alerts)] == ["job_failed", "job_failed"]


def test_a_handler_that_turns_a_refusal_into_retry_later_still_fails_for_good(store):
    """Handlers of their own (plugin.agreement.overlap) wrap every LabelStudioError in RetryLater."""

    def run(job):
        try:
            raise LabelStudioError("404 Not Found", 404)
        except LabelStudioError as exc:
            raise RetryLater(str(exc)) from exc

    enqueue(store, kind="set_overlap")
    run_due_jobs(store, {"set_overlap": run})
    (job,) = rows(store, jobs, jobs.c.kind == "set_overlap")
    assert job["status"] == "failed"


def test_failed_alert_deliveries_are_not_alerted(store):
    handler, _ = failing(LabelStudioError("403", 403))
    enqueue(store, kind="send_alert")
    run_due_jobs(store, {"send_alert": handler})
    assert rows(store, alerts) == []
