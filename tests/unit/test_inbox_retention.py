"""Inbox retention: raw bodies of long-processed events are erased, their dedupe keys stay."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from eventfactory import annotation_event
from sqlalchemy import func, select, update

from plugin.settings import load_settings
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import inbox, processed_events
from plugin.worker import Worker


def settings_for(store_url, days, tmp_path):
    config = tmp_path / "retention.yaml"
    config.write_text(f"worker:\n  inbox_retention_days: {days}\n")
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


def enqueue(store, ids):
    body = {i: json.dumps(annotation_event(i, 10 + i, 2)) for i in ids}
    events = [InboxEvent(f"key-{i}", "ANNOTATION_CREATED", 1, body[i]) for i in ids]
    with store.inbox_begin() as conn:
        return append_events(conn, events)


def bodies(store):
    with store.inbox_read() as conn:
        return dict(conn.execute(select(inbox.c.id, inbox.c.body != "").order_by(inbox.c.id)).all())


@pytest.mark.parametrize("days", [30.0, 0.0])
def test_old_bodies_are_erased_and_their_keys_still_deduplicate(store, store_url, days, tmp_path):
    settings = settings_for(store_url, days, tmp_path)
    enqueue(store, [1, 2, 3, 4])
    worker = Worker(store, settings)
    assert worker.drain() == 4
    old = datetime.now(UTC) - timedelta(days=40)
    with store.inbox_begin() as conn:
        conn.execute(update(inbox).where(inbox.c.id.in_([1, 2, 4])).values(processed_at=old))
        conn.execute(update(inbox).where(inbox.c.id == 4).values(status="failed"))
    enqueue(store, [5])  # pending: the walk stops there, and processed_events below it can go

    erased = worker.apply_retention()

    if days:
        assert erased == 2
        assert bodies(store) == {1: False, 2: False, 3: True, 4: True, 5: True}
    else:
        assert erased == 0 and all(bodies(store).values())
    assert enqueue(store, [1, 2]) == [False, False]  # still known: a redelivery is a duplicate
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(processed_events)).scalar_one() == 0
    assert worker.drain() == 1  # event 5, whose body is intact
    assert worker.apply_retention() == 0  # nothing new is due; the walk resumes where it stopped
