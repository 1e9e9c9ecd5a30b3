"""/healthz and `lsqa status` tell whether the worker is alive and getting through the inbox."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from eventfactory import annotation_event
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from workerfaults import enqueue, install_fault, make_settings

import plugin.worker as worker_module
from plugin.cli import main
from plugin.store.heartbeats import beat
from plugin.store.schema import inbox
from plugin.worker import Worker
from webhooks.app import create_app


def healthz(store, settings):
    app = create_app(settings, store=store)
    try:
        response = app.test_client().get("/healthz")
    finally:
        app.extensions["lsqa"]["writer"].close()
    return response.status_code, response.get_json()


def wait_for(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def test_healthz_is_503_while_the_worker_is_stuck_and_200_once_it_moves(
    store, store_url, tmp_path, monkeypatch
):
    """A worker that beats but cannot get through the inbox (here the database keeps refusing its
    writes) is stuck; once the database is back it processes the events and health returns."""
    monkeypatch.setattr(worker_module, "HEARTBEAT_SECONDS", 0.05)
    settings = make_settings(store_url, tmp_path, stuck_after_seconds=1, poll_interval=0.05)
    fault = install_fault(monkeypatch)
    fault[1] = OperationalError("INSERT ...", {}, Exception("database is locked"))
    enqueue(store, [annotation_event(1, 10, 2), annotation_event(2, 11, 3)])
    stop = threading.Event()
    thread = threading.Thread(target=Worker(store, settings).run, args=(stop,))
    thread.start()
    try:
        code, body = wait_for(
            lambda: (r := healthz(store, settings))[1]["status"] == "stuck" and r,
            "health to see the worker stuck",
        )
        assert code == 503 and body["inbox_pending"] == 2
        assert body["worker_progress_seconds_ago"] is None  # it beats (seen), but never got through
        assert body["oldest_pending_age_seconds"] > 1
        del fault[1]  # the database is back
        code, body = wait_for(
            lambda: (r := healthz(store, settings))[1]["worker_progress_seconds_ago"] is not None and r,
            "the worker's progress recorded",
        )
        assert code == 200 and body["status"] == "ok" and body["inbox_pending"] == 0
    finally:
        stop.set()
        thread.join(30)


def test_healthz_is_503_when_the_last_worker_seen_went_silent(store, store_url, tmp_path):
    settings = make_settings(store_url, tmp_path)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with store.begin() as conn:
        beat(conn, "killed-worker", long_ago, long_ago)
    code, body = healthz(store, settings)
    assert (code, body["status"]) == (503, "worker silent")
    assert body["worker_seen_seconds_ago"] >= 3600


def test_healthz_reports_the_oldest_waiting_event_and_parked_ones(store, store_url, tmp_path):
    settings = make_settings(store_url, tmp_path)
    unreadable = annotation_event(1, 10, 2)
    unreadable["task"]["id"] = -1
    enqueue(store, [unreadable, annotation_event(2, 11, 3)])
    Worker(store, settings).process_batch()
    enqueue(store, [annotation_event(3, 12, 2)])
    with store.inbox_begin() as conn:
        conn.execute(
            update(inbox)
            .where(inbox.c.status == "pending")
            .values(received_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    code, body = healthz(store, settings)
    assert code == 200  # waiting 2 minutes, under stuck_after_seconds
    assert body["inbox_failed"] == 1 and body["inbox_pending"] == 1
    assert 100 < body["oldest_pending_age_seconds"] < 300


@pytest.mark.parametrize("as_json", [False, True])
def test_status_shows_the_worker_and_parked_events(store, store_url, tmp_path, monkeypatch, capsys, as_json):
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    unreadable = annotation_event(1, 10, 2)
    unreadable["annotation"]["result"] = [1]
    enqueue(store, [unreadable])
    Worker(store, make_settings(store_url, tmp_path)).process_batch()
    now = datetime.now(UTC)
    with store.begin() as conn:
        beat(conn, "w", now, now)
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )
    assert main(["--config", str(config), "status", "--project", "1", *(["--json"] if as_json else [])]) == 0
    out = capsys.readouterr().out
    if as_json:
        worker = json.loads(out)["worker"]
        assert worker["state"] == "ok" and worker["parked"] == 1 and worker["worker_seen_seconds_ago"] < 60
    else:
        assert (
            "worker       ok, seen " in out
            and "s ago, last progress" in out
            and "1 parked (see `lsqa inbox list`)" in out
        )
