"""On SQLite the inbox is a file of its own: acknowledgements never wait for the database's writers,
events are still applied exactly once, and a store that kept its inbox in the database moves it."""

import json
import sqlite3
import threading
from datetime import UTC, datetime
from importlib import resources

import pytest
from alembic import command
from alembic.config import Config
from eventfactory import annotation_event
from sqlalchemy import func, insert, select

from plugin.settings import load_settings
from plugin.store import Store
from plugin.store.inbox import InboxEvent, append_events, processed_among
from plugin.store.schema import annotations, inbox, processed_events
from plugin.store.schema_audit import audit_log
from plugin.store.store import INBOX_SCHEMA_VERSION
from plugin.store.writer import InboxWriter
from plugin.worker import Worker
from webhooks.app import create_app

SECRET = "s3cr3t-s3cr3t-s3cr3t"


@pytest.fixture
def settings(sqlite_url):
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": SECRET,
        "LSQA_DATABASE_URL": sqlite_url,
    }
    return load_settings(None, env=env)


@pytest.fixture
def store(sqlite_url):
    store = Store(sqlite_url)
    store.migrate()
    yield store
    store.dispose()


def enqueue(store, bodies):
    events = [InboxEvent(f"key-{b['annotation']['id']}", b["action"], 1, json.dumps(b)) for b in bodies]
    with store.inbox_begin() as conn:
        return append_events(conn, events)


def count(store, query, *, in_inbox=False):
    with store.inbox_read() if in_inbox else store.read() as conn:
        return conn.execute(query).scalar_one()


def test_sqlite_keeps_the_inbox_in_a_file_beside_the_database(store, tmp_path):
    assert store.split_inbox
    assert store.inbox_path == tmp_path / "lsqa-inbox.sqlite3"
    enqueue(store, [annotation_event(1, 10, 2)])
    assert count(store, select(func.count()).select_from(inbox), in_inbox=True) == 1
    assert count(store, select(func.count()).select_from(inbox)) == 0  # the database's own table stays empty
    with sqlite3.connect(store.inbox_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (INBOX_SCHEMA_VERSION,)


def test_postgresql_keeps_the_inbox_in_the_database(pg_url):
    store = Store(pg_url)
    assert not store.split_inbox and store.inbox_engine is store.engine
    store.dispose()


def test_the_webhook_is_acknowledged_while_the_database_is_locked_for_writing(settings, store):
    """The worker, the jobs and the API hold the database's write lock for as long as they need:
    the receiver only ever waits for the inbox."""
    app = create_app(settings, store=store)
    client = app.test_client()
    locked, release = threading.Event(), threading.Event()

    def hold_the_database() -> None:
        with store.begin():
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_database)
    holder.start()
    try:
        assert locked.wait(10)
        response = client.post(
            "/webhooks/label-studio",
            data=json.dumps(annotation_event(1, 10, 2)),
            headers={"X-LSQA-Secret": SECRET},
            content_type="application/json",
        )
        assert holder.is_alive()  # still holding the lock when the acknowledgement came
    finally:
        release.set()
        holder.join()
        app.extensions["lsqa"]["writer"].close()
    assert response.status_code == 200, response.get_json()
    assert count(store, select(func.count()).select_from(inbox), in_inbox=True) == 1


def test_an_event_applied_but_not_yet_marked_done_is_never_applied_again(store, settings, monkeypatch):
    """The worker commits an event's effects, then marks it done in the inbox file: a crash between
    the two commits leaves it pending, and processed_events tells the next worker it is done."""
    enqueue(store, [annotation_event(i, 10 + i, 2) for i in range(1, 4)])

    class Crash(Exception):
        pass

    real_inbox_begin = store.inbox_begin

    def crash(*_args, **_kwargs):
        raise Crash

    monkeypatch.setattr(store, "inbox_begin", crash)
    with pytest.raises(Crash):
        Worker(store, settings).process_batch()
    monkeypatch.setattr(store, "inbox_begin", real_inbox_begin)
    pending = select(func.count()).where(inbox.c.status == "pending")
    assert count(store, pending, in_inbox=True) == 3
    with store.read() as conn:
        assert processed_among(conn, [1, 2, 3, 4]) == {1, 2, 3}
    received = select(func.count()).where(audit_log.c.kind == "annotation.received")
    assert count(store, received) == 3

    assert Worker(store, settings).drain() == 3
    assert count(store, pending, in_inbox=True) == 0
    assert count(store, received) == 3  # not recorded twice
    assert count(store, select(func.count()).select_from(annotations)) == 3


def test_several_workers_on_sqlite_never_apply_an_event_twice(store, settings):
    enqueue(store, [annotation_event(i, 100 + i % 7, 2 + i % 3) for i in range(1, 301)])
    workers = [Worker(store, settings, worker_id=f"w{i}") for i in range(3)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(store, select(func.count()).where(inbox.c.status != "done"), in_inbox=True) == 0
    assert count(store, select(func.count()).select_from(processed_events)) == 300
    assert count(store, select(func.count()).where(audit_log.c.kind == "annotation.received")) == 300


def test_the_writer_checkpoints_the_inbox_outside_its_commits(store):
    writer = InboxWriter(store)
    try:
        for i in range(3):
            assert writer.submit(InboxEvent(f"k{i}", "ANNOTATION_CREATED", 1, "{}")).result(timeout=10)
        for _ in range(100):
            if writer.checkpoints:
                break
            threading.Event().wait(0.05)
        assert writer.checkpoints >= 1
    finally:
        writer.close()
    with sqlite3.connect(store.inbox_path) as raw:  # everything is in the file, none only in the log
        busy, log_frames, checkpointed = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames == checkpointed


def migrate_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("plugin.store") / "migrations"))
    store = Store(url)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    store.dispose()


def test_a_store_that_kept_its_inbox_in_the_database_moves_it_ids_and_all(sqlite_url, settings):
    migrate_to(sqlite_url, "0006")  # the schema before the inbox had a file of its own
    old = Store(sqlite_url)
    now = datetime.now(UTC)
    rows = [
        {
            "id": event_id,
            "dedupe_key": f"old-{event_id}",
            "action": "ANNOTATION_CREATED",
            "project_id": 1,
            "received_at": now,
            "body": json.dumps(annotation_event(event_id, 10, 2)),
            "status": status,
            "attempts": int(status == "done"),
        }
        for event_id, status in ((3, "done"), (8, "pending"), (9, "pending"))
    ]
    with old.engine.begin() as conn:
        conn.execute(insert(inbox), rows)
    old.dispose()

    store = Store(sqlite_url)
    store.migrate()
    store.migrate()  # idempotent
    try:
        with store.inbox_read() as conn:
            moved = conn.execute(select(inbox.c.id, inbox.c.status).order_by(inbox.c.id)).all()
        assert moved == [(3, "done"), (8, "pending"), (9, "pending")]
        assert count(store, select(func.count()).select_from(inbox)) == 0
        # New events are numbered after the old ones: domain rows are stamped with these ids.
        assert enqueue(store, [annotation_event(20, 10, 2, action="ANNOTATION_UPDATED")]) == [True]
        with store.inbox_read() as conn:
            assert conn.execute(select(func.max(inbox.c.id))).scalar_one() == 10
        assert Worker(store, settings).drain() == 3
        assert count(store, select(func.count()).select_from(annotations)) == 3
        assert count(store, select(func.count()).where(inbox.c.status != "done"), in_inbox=True) == 0
    finally:
        store.dispose()
