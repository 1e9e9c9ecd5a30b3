"""Worker and store on both engines: events become records exactly once, in any replay order."""

import json
import threading

import pytest
from eventfactory import annotation_event, deleted_annotations, deleted_tasks, payload
from sqlalchemy import select, update

from plugin.events import parse_event
from plugin.settings import load_settings
from plugin.store.domain import apply_changes, event_seq
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import annotations, inbox, tasks
from plugin.worker import Worker


@pytest.fixture
def settings(store_url):
    return load_settings(
        None,
        env={
            "LABEL_STUDIO_URL": "http://127.0.0.1:1",
            "LABEL_STUDIO_API_KEY": "k",
            "LSQA_WEBHOOK_SECRET": "x" * 16,
            "LSQA_DATABASE_URL": store_url,
        },
    )


def enqueue(store, bodies):
    events = [
        InboxEvent(f"key-{i}-{hash(json.dumps(b, sort_keys=True))}", b["action"], 1, json.dumps(b))
        for i, b in enumerate(bodies)
    ]
    with store.inbox_begin() as conn:
        return append_events(conn, events)


def live_annotations(store):
    with store.read() as conn:
        rows = conn.execute(
            select(annotations.c.id, annotations.c.task_id, annotations.c.annotator_id, annotations.c.result)
            .where(annotations.c.deleted.is_(False))
            .order_by(annotations.c.id)
        )
        return [
            (r.id, r.task_id, r.annotator_id, r.result[0]["value"]["choices"][0] if r.result else None)
            for r in rows
        ]


def live_task_ids(store):
    with store.read() as conn:
        return sorted(conn.execute(select(tasks.c.id).where(tasks.c.deleted.is_(False))).scalars())


def test_worker_turns_events_into_records(store, settings):
    enqueue(
        store,
        [
            annotation_event(1, 10, 2),
            annotation_event(2, 11, 3),
            annotation_event(1, 10, 2, action="ANNOTATION_UPDATED", choice="neg"),
        ],
    )
    assert Worker(store, settings).drain() == 3
    assert live_annotations(store) == [(1, 10, 2, "neg"), (2, 11, 3, "pos")]
    assert live_task_ids(store) == [10, 11]
    with store.inbox_read() as conn:
        assert set(conn.execute(select(inbox.c.status, inbox.c.attempts)).all()) == {("done", 1)}


def test_worker_delete_events_tombstone_records(store, settings):
    enqueue(
        store,
        [
            annotation_event(1, 10, 2),
            annotation_event(2, 11, 3),
            annotation_event(3, 12, 3),
            deleted_annotations(1),
            deleted_tasks(11),
        ],
    )
    Worker(store, settings).drain()
    assert live_annotations(store) == [(3, 12, 3, "pos")]
    assert live_task_ids(store) == [10, 12]


def test_replaying_any_event_changes_nothing(store, settings):
    bodies = [
        annotation_event(1, 10, 2),
        annotation_event(1, 10, 2, action="ANNOTATION_UPDATED", choice="neg"),
        annotation_event(2, 11, 3),
        deleted_annotations(2),
        deleted_tasks(10),
    ]
    enqueue(store, bodies)
    Worker(store, settings).drain()
    before = (live_annotations(store), live_task_ids(store))
    with store.inbox_read() as conn:
        events = conn.execute(select(inbox.c.id, inbox.c.body).order_by(inbox.c.id)).all()
    for order in (events, list(reversed(events))):
        for event_id, body in order:
            with store.begin() as conn:
                apply_changes(conn, parse_event(json.loads(body)), event_seq(event_id))
        assert (live_annotations(store), live_task_ids(store)) == before


def test_a_reused_task_id_after_deletion_is_a_new_task(store, settings):
    # Label Studio on SQLite hands a deleted task's id to the next import (notes §1).
    enqueue(store, [annotation_event(1, 10, 2), deleted_tasks(10), annotation_event(7, 10, 3)])
    Worker(store, settings).drain()
    assert live_annotations(store) == [(7, 10, 3, "pos")]
    assert live_task_ids(store) == [10]


def test_a_bad_event_is_parked_without_blocking_others(store, settings):
    bad = annotation_event(1, 10, 2)
    bad["annotation"]["result"] = "garbage"
    enqueue(store, [bad, annotation_event(2, 11, 3)])
    worker = Worker(store, settings)
    for _ in range(settings["worker.max_attempts"]):
        worker.process_batch()
    assert live_annotations(store) == [(2, 11, 3, "pos")]
    with store.inbox_read() as conn:
        rows = dict(conn.execute(select(inbox.c.status, inbox.c.error).order_by(inbox.c.id)).all())
    assert set(rows) == {"failed", "done"}
    assert "result is not a list" in rows["failed"]


@pytest.mark.postgres
def test_several_workers_on_postgresql_never_process_an_event_twice(fresh_pg_url):
    from plugin.store import Store

    store = Store(fresh_pg_url)
    store.migrate()
    settings = load_settings(
        None,
        env={
            "LABEL_STUDIO_URL": "http://x",
            "LABEL_STUDIO_API_KEY": "k",
            "LSQA_WEBHOOK_SECRET": "x" * 16,
            "LSQA_DATABASE_URL": fresh_pg_url,
        },
    )
    bodies = [annotation_event(i, 1000 + i % 50, 2 + i % 3) for i in range(1, 1201)]
    enqueue(store, bodies)
    workers = [Worker(store, settings, worker_id=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.inbox_read() as conn:
        rows = conn.execute(select(inbox.c.status, inbox.c.attempts, inbox.c.processed_by)).all()
    assert len(rows) == 1200
    assert {(s, a) for s, a, _ in rows} == {("done", 1)}
    assert len({w for _, _, w in rows}) > 1  # the work really was shared
    assert len(live_annotations(store)) == 1200
    store.dispose()


def test_reclaiming_after_a_crash_mid_batch_loses_nothing(store, settings):
    enqueue(store, [annotation_event(i, 10 + i, 2) for i in range(1, 6)])

    class Crash(Exception):
        pass

    worker = Worker(store, settings)
    with pytest.raises(Crash), store.inbox_begin() as conn:
        conn.execute(update(inbox).values(status="done"))
        raise Crash  # the transaction never commits, as if the process died
    assert worker.drain() == 5
    assert len(live_annotations(store)) == 5


def test_a_big_event_is_written_in_pieces_with_the_same_result(store, settings):
    body = payload("TASKS_CREATED")
    template = body["tasks"][0]
    body["tasks"] = [dict(template, id=5000 + i) for i in range(1234)]
    enqueue(store, [body, deleted_tasks(5000, 5001)])
    assert Worker(store, settings).drain() == 2
    assert live_task_ids(store) == list(range(5002, 6234))


def test_changes_split_keeps_every_row_once():
    changes = parse_event(payload("ANNOTATIONS_CREATED"))
    changes.deleted_task_ids = list(range(7))
    pieces = changes.split(2)
    assert all(p.size() <= 2 for p in pieces)
    assert pieces[0].projects == changes.projects and not any(p.projects for p in pieces[1:])
    for name in ("tasks", "annotations", "deleted_task_ids"):
        assert [x for p in pieces for x in getattr(p, name)] == getattr(changes, name)
