"""`lsqa inbox list|retry|drop` on both engines: what was parked and why, back in line once, or gone."""

import json

import pytest
from eventfactory import annotation_event
from sqlalchemy import select
from workerfaults import enqueue, inbox_state, install_fault, make_settings

from plugin.cli import main
from plugin.store.schema import annotations, inbox
from plugin.worker import Worker


@pytest.fixture
def lsqa(store_url, tmp_path, monkeypatch):
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )
    return lambda *args: main(["--config", str(config), "inbox", *args])


def park_two(store, store_url, tmp_path, monkeypatch):
    """An unreadable event (parked at once) and one whose reaction hits a bug (parked after its
    one attempt), then a good one; returns their inbox ids and the fault switch."""
    fault = install_fault(monkeypatch)
    fault[1] = RuntimeError("a bug reacting to annotation 1")
    unreadable = annotation_event(2, 11, 3)
    unreadable["annotation"]["id"] = "two"
    enqueue(store, [annotation_event(1, 10, 2), unreadable, annotation_event(3, 12, 2)])
    Worker(store, make_settings(store_url, tmp_path, max_attempts=1)).drain()
    assert [s for _, s, _, _ in inbox_state(store)] == ["failed", "failed", "done"]
    ids = [i for i, *_ in inbox_state(store)]
    return ids[0], ids[1], fault


def test_inbox_list_shows_what_failed_and_why(store, store_url, tmp_path, monkeypatch, lsqa, capsys):
    bug, unreadable, _ = park_two(store, store_url, tmp_path, monkeypatch)
    assert lsqa("list") == 0
    text = capsys.readouterr().out
    assert f"{bug}  ANNOTATION_CREATED" in text and "RuntimeError: a bug reacting to annotation 1" in text
    assert f"{unreadable}  ANNOTATION_CREATED" in text and "annotation.id is missing" in text
    assert lsqa("list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["attempts"]) for e in listed] == [(bug, 1), (unreadable, 1)]
    assert "body" not in listed[0]


def test_inbox_retry_brings_a_parked_event_back_and_it_is_processed_once(
    store, store_url, tmp_path, monkeypatch, lsqa, capsys
):
    bug, unreadable, fault = park_two(store, store_url, tmp_path, monkeypatch)
    del fault[1]  # the bug is fixed
    assert lsqa("retry", str(bug)) == 0
    assert "1 parked event(s) back in line" in capsys.readouterr().out
    worker = Worker(store, make_settings(store_url, tmp_path))
    assert worker.drain() == 1
    assert worker.drain() == 0
    states = {i: (s, a) for i, s, a, _ in inbox_state(store)}
    assert states[bug] == ("done", 1) and states[unreadable] == ("failed", 1)
    with store.read() as conn:
        assert sorted(conn.execute(select(annotations.c.id)).scalars()) == [1, 3]
    assert lsqa("retry", str(bug)) == 1  # no longer parked
    assert lsqa("retry") == 2  # ids or --all


def test_inbox_drop_gives_up_for_good_and_a_redelivery_stays_a_duplicate(
    store, store_url, tmp_path, monkeypatch, lsqa, capsys
):
    bug, unreadable, _ = park_two(store, store_url, tmp_path, monkeypatch)
    assert lsqa("drop", "--all") == 0
    assert "2 parked event(s) dropped" in capsys.readouterr().out
    with store.inbox_read() as conn:
        rows = conn.execute(
            select(inbox.c.status, inbox.c.body, inbox.c.dedupe_key).order_by(inbox.c.id)
        ).all()
    assert [(s, b) for s, b, _ in rows[:2]] == [("dropped", ""), ("dropped", "")]
    assert lsqa("list") == 0 and "no parked events" in capsys.readouterr().out
    assert Worker(store, make_settings(store_url, tmp_path)).drain() == 0
    with store.inbox_begin() as conn:  # the same body delivered again
        from plugin.store.inbox import InboxEvent, append_events

        again = append_events(conn, [InboxEvent(rows[0][2], "ANNOTATION_CREATED", 1, "{}")])
    assert again == [False]
