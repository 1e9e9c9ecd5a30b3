"""One bad event never stops the worker: poison events are parked, the events behind them are
processed, failures back off, and a database in trouble makes no event fail (both engines)."""

import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest
from eventfactory import annotation_event, deleted_tasks, payload
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from workerfaults import enqueue, inbox_state, install_fault, make_settings

import plugin.worker as worker_module
from plugin.store.schema import annotations, gold_copies, gold_items, inbox, projects
from plugin.worker import Worker

BIG = 2**63  # one past the largest BIGINT: SQLite's driver raises OverflowError on it
CHOICES = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def stored_annotation_ids(store):
    with store.read() as conn:
        return sorted(conn.execute(select(annotations.c.id)).scalars())


def poison_events():
    huge_annotation = annotation_event(BIG, 10, 2)
    huge_task = annotation_event(3, BIG, 2)
    huge_user = annotation_event(4, 11, BIG)
    huge_project = annotation_event(5, 12, 2)
    huge_project["project"]["id"] = BIG
    superscript = annotation_event(6, 13, 2)
    superscript["annotation"]["task"] = "²"  # "²".isdigit() is True, int("²") fails
    not_objects = annotation_event(7, 14, 2)
    not_objects["annotation"]["result"] = [5, "x"]
    return [huge_annotation, huge_task, huge_user, huge_project, superscript, not_objects]


def test_poison_events_are_parked_at_once_and_the_events_behind_them_processed(store, settings):
    enqueue(store, [*poison_events(), annotation_event(1, 20, 2), annotation_event(2, 21, 3)])
    Worker(store, settings).process_batch()  # on SQLite an id of 2^63 raised OverflowError here
    assert stored_annotation_ids(store) == [1, 2]
    rows = inbox_state(store)
    assert [(status, attempts) for _, status, attempts, _ in rows] == [("failed", 1)] * 6 + [("done", 1)] * 2
    errors = [error for _, _, _, error in rows[:6]]
    assert all("from 1 to 2^63-1" in e for e in errors[:5]), errors
    assert "not an object" in errors[5]


def test_a_gold_copy_answer_whose_results_are_not_objects_is_parked(store, settings):
    now = datetime.now(UTC)
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=1, title="p", label_config=CHOICES, connected=True, seq=0))
        item = conn.execute(
            gold_items.insert().values(
                project_id=1,
                data={"text": "gold"},
                expert_result=[
                    {
                        "from_name": "label",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["pos"]},
                    }
                ],
                classes=["pos"],
                origin="cli",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        conn.execute(
            gold_copies.insert().values(
                project_id=1,
                task_id=500,
                item_id=item,
                annotator_id=2,
                purpose="regular",
                state="live",
                helper_annotation_ids=[],
                created_at=now,
            )
        )
    answer = annotation_event(50, 500, 2)
    answer["annotation"]["result"] = ["label", 5]  # scoring called .get() on these: AttributeError
    enqueue(store, [answer, annotation_event(51, 501, 3)])
    worker = Worker(store, settings)
    worker.drain()
    assert stored_annotation_ids(store) == [51]
    assert [(s, a) for _, s, a, _ in inbox_state(store)] == [("failed", 1), ("done", 1)]


@pytest.fixture
def settings(store_url, tmp_path):
    return make_settings(store_url, tmp_path)


@pytest.fixture
def fault(monkeypatch):
    return install_fault(monkeypatch)


def test_any_exception_while_reacting_is_the_events_failure_alone(store, store_url, tmp_path, fault):
    settings = make_settings(store_url, tmp_path, max_attempts=2, retry_backoff_seconds=0)
    fault[1] = AttributeError("'int' object has no attribute 'get'")  # not among the old REACTION_ERRORS
    enqueue(store, [annotation_event(1, 10, 2), annotation_event(2, 11, 3), annotation_event(3, 12, 2)])
    worker = Worker(store, settings)
    worker.process_batch()
    assert stored_annotation_ids(store) == [2, 3]
    assert inbox_state(store)[0][1:3] == ("pending", 1)
    worker.process_batch()
    event_id, status, attempts, error = inbox_state(store)[0]
    assert (status, attempts) == ("failed", 2)
    assert error.startswith("AttributeError: ")


def test_a_failed_event_waits_out_its_back_off(store, settings, fault):
    fault[1] = RuntimeError("a bug reacting to this one")
    enqueue(store, [annotation_event(1, 10, 2)])
    worker = Worker(store, settings)
    assert worker.process_batch() == 1
    assert worker.process_batch() == 0  # not retried back to back (retry_backoff_seconds: 30)
    with store.inbox_read() as conn:
        status, attempts, retry_after = conn.execute(
            select(inbox.c.status, inbox.c.attempts, inbox.c.retry_after)
        ).one()
    assert (status, attempts) == ("pending", 1) and retry_after is not None


def database_is_locked():
    return OperationalError("INSERT INTO ...", {}, sqlite3.OperationalError("database is locked"))


def test_a_database_in_trouble_makes_no_event_fail(store, store_url, tmp_path, fault):
    settings = make_settings(store_url, tmp_path, max_attempts=1)
    fault[1] = database_is_locked()
    enqueue(store, [annotation_event(1, 10, 2), annotation_event(2, 11, 3)])
    worker = Worker(store, settings)
    with pytest.raises(OperationalError):
        worker.process_batch()
    assert [(s, a) for _, s, a, _ in inbox_state(store)] == [("pending", 0), ("pending", 0)]
    del fault[1]  # the database is back
    assert worker.drain() == 2
    assert stored_annotation_ids(store) == [1, 2]
    assert [(s, a) for _, s, a, _ in inbox_state(store)] == [("done", 1), ("done", 1)]


def wait_for(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_the_running_worker_outlives_poison_and_beats(store, settings, monkeypatch):
    from plugin.store.heartbeats import worker_pulse

    monkeypatch.setattr(worker_module, "HEARTBEAT_SECONDS", 0.05, raising=False)
    enqueue(
        store, [*poison_events(), annotation_event(1, 20, 2), deleted_tasks(30), payload("TASKS_CREATED")]
    )
    stop = threading.Event()
    worker = Worker(store, settings, worker_id="the-worker")
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait_for(
            lambda: {s for _, s, _, _ in inbox_state(store)} == {"failed", "done"}, "every event settled"
        )

        def pulse():
            with store.read() as conn:
                return worker_pulse(conn)

        wait_for(lambda: pulse().progress_at is not None, "a heartbeat with progress")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert stored_annotation_ids(store) == [1]
    assert pulse().beat_at is None  # a worker that stops cleanly takes its heartbeat with it
