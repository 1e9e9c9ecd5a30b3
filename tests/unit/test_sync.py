"""The sync on both store engines, against a fake of Label Studio's listings: the lease, the
resumable position, the incremental cursor, and what it writes (events marked as the sync's)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from synctools import FakeProjectListing

from plugin.settings import load_settings
from plugin.store.schema import annotations, inbox, projects, tasks
from plugin.store.schema_sync import sync_state
from plugin.store.sync_state import read_sync_state, release_lease, save_sync_state, take_lease
from plugin.worker import Worker

RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
OTHER = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]


@pytest.fixture
def settings(store_url, tmp_path):
    config = tmp_path / "lsqa.yaml"
    config.write_text("gold:\n  enabled: false\nworker:\n  sync_page_size: 10\n")
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


@pytest.fixture
def listing(store):
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=1, title="p", connected=True, seq=0))
    return FakeProjectListing(1)


def worker(store, settings, listing, name="w1"):
    return Worker(store, settings, adapter_factory=lambda: listing, worker_id=name)


def store_truth(store):
    with store.read() as conn:
        live_tasks = set(conn.execute(select(tasks.c.id).where(tasks.c.deleted.is_(False))).scalars())
        rows = conn.execute(
            select(annotations.c.id, annotations.c.result).where(annotations.c.deleted.is_(False))
        )
        return live_tasks, {row.id: row.result for row in rows}


def label_studio_truth(listing):
    made = {a["id"]: a["result"] for t in listing.tasks.values() for a in t["annotations"]}
    return set(listing.tasks), made


def sync_events(store):
    with store.inbox_read() as conn:
        rows = conn.execute(select(inbox.c.action, inbox.c.body, inbox.c.status).order_by(inbox.c.id)).all()
    return [(r.action, json.loads(r.body), r.status) for r in rows]


def test_sync_lease_is_exclusive_until_it_expires_and_fences_the_old_holder(store, listing):
    now = datetime.now(UTC)
    with store.begin() as conn:
        assert take_lease(conn, 1, "a", now, 60)
        assert not take_lease(conn, 1, "b", now + timedelta(seconds=59), 60)
        assert take_lease(conn, 1, "a", now + timedelta(seconds=30), 60)  # renewing is taking again
        assert not take_lease(conn, 1, "b", now + timedelta(seconds=89), 60)
        assert take_lease(conn, 1, "b", now + timedelta(seconds=91), 60)  # "a" stopped renewing
        assert not save_sync_state(conn, 1, "a", pass_done=5)  # the old holder can no longer write
        assert save_sync_state(conn, 1, "b", pass_done=7)
        release_lease(conn, 1, "a")  # not its lease: nothing happens
        assert read_sync_state(conn, 1).holder == "b"
        release_lease(conn, 1, "b")
        assert take_lease(conn, 1, "c", now, 60)
        assert read_sync_state(conn, 1).pass_done == 7


def test_sync_first_pass_records_history_then_changes_arrive_as_sync_events(store, settings, listing):
    for i in range(3):
        listing.add_task(f"t{i}")
    first = listing.annotate(1, 2, RESULT)
    second = listing.annotate(2, 3, RESULT)
    w = worker(store, settings, listing)
    assert w.sync_connected()
    assert store_truth(store) == label_studio_truth(listing)
    assert sync_events(store) == []  # the history before the service knew the project: no reactions

    imported = listing.add_task("imported while we were down")
    created = listing.annotate(3, 2, RESULT)
    listing.update_annotation(first["id"], result=OTHER)
    listing.delete_annotation(second["id"])
    listing.calls.clear()
    assert w.sync_connected()
    assert "tasks_after" not in listing.calls  # incremental: only what changed was listed
    assert store_truth(store) == label_studio_truth(listing)
    events = sync_events(store)
    assert all(body["lsqa_origin"] == "sync" and status == "done" for _, body, status in events)
    assert sorted(action for action, _, _ in events) == [
        "ANNOTATIONS_DELETED",
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "TASKS_CREATED",
    ]
    by_action = {action: body for action, body, _ in events}
    assert by_action["ANNOTATION_CREATED"]["annotation"]["id"] == created["id"]
    assert by_action["ANNOTATION_CREATED"]["task"]["id"] == 3
    assert by_action["ANNOTATIONS_DELETED"]["annotations"] == [{"id": second["id"]}]
    assert [t["id"] for t in by_action["TASKS_CREATED"]["tasks"]] == [imported["id"]]

    assert w.sync_connected()  # nothing changed since: nothing new
    assert len(sync_events(store)) == len(events)


def test_sync_full_pass_resumes_where_a_dead_worker_stopped(store, settings, listing):
    for i in range(25):
        listing.add_task(f"t{i}")
    w1 = worker(store, settings, listing, "w1")
    assert w1.sync_connected()  # the baseline
    with store.begin() as conn:
        conn.execute(update(sync_state).values(last_full_at=datetime.now(UTC) - timedelta(days=2)))
    del listing.tasks[17]  # deleted while nobody listened
    assert w1.sync_step(eager=True)  # the full pass's first page (tasks 1-10) ...
    assert read_state(store).pass_position["after_id"] == 10
    # ... and w1 dies: its lease is no longer renewed.
    w2 = worker(store, settings, listing, "w2")
    assert not w2.sync_step(eager=True)  # w1's lease still runs: w2 must not take it
    with store.begin() as conn:
        conn.execute(update(sync_state).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    listing.calls.clear()
    assert w2.sync_connected()
    assert listing.calls.count("tasks_after") == 2  # tasks 11-20 and 21-25: not from the start
    assert store_truth(store) == label_studio_truth(listing)
    assert [a for a, _, _ in sync_events(store)] == ["TASKS_DELETED"]
    state = read_state(store)
    assert (
        state.pass_kind is None
        and state.holder is None
        and state.last_full_at > state.requested_at - timedelta(days=1)
    )
    w1.sync_scheduler.current = None  # (w1 is "dead": its pass object must not be used)


def test_sync_leaves_what_live_events_received_meanwhile_say(store, settings, listing):
    """An annotation a live event spoke about after the page's watermark is the live event's."""
    from plugin.sync.recovered import Touched, diff_page

    listing.add_task()
    annotation = listing.annotate(1, 2, RESULT)
    page = list(listing.tasks.values())
    touched = Touched()
    touched.add_body("ANNOTATION_UPDATED", {"annotation": {"id": annotation["id"]}})
    assert diff_page(1, page, {}, {}, touched).counts == {"TASKS_CREATED": 1}
    assert diff_page(1, page, {}, {}, Touched()).counts == {"TASKS_CREATED": 1, "ANNOTATION_CREATED": 1}
    again = diff_page(1, page, {}, {}, Touched())
    assert [e.dedupe_key for e in again.events] == [
        e.dedupe_key for e in diff_page(1, page, {}, {}, Touched()).events
    ]


def read_state(store):
    with store.read() as conn:
        return read_sync_state(conn, 1)


class OverlapWatch:
    """Wraps a listing; records how many syncs of the project read at the same moment."""

    def __init__(self, listing):
        import threading

        self.listing, self.active, self.most = listing, 0, 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        import time

        call = getattr(self.listing, name)

        def watched(*args, **kwargs):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            try:
                time.sleep(0.02)  # a page takes a while: overlapping passes would show
                return call(*args, **kwargs)
            finally:
                with self.lock:
                    self.active -= 1

        return watched


@pytest.mark.postgres
def test_two_workers_on_one_postgresql_run_one_sync_per_project_at_a_time(fresh_pg_url, tmp_path):
    import threading

    from plugin.store import Store

    store = Store(fresh_pg_url)
    store.migrate()
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "gold:\n  enabled: false\n"
        "worker:\n  sync_page_size: 10\n  sync_interval: 0.5\n  poll_interval: 0.05\n"
    )
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": fresh_pg_url,
    }
    settings = load_settings(config, env=env)
    listing = FakeProjectListing(1)
    for i in range(60):
        listing.add_task(f"t{i}")
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=1, title="p", connected=True, seq=0))
    watch = OverlapWatch(listing)
    stop = threading.Event()
    workers = [Worker(store, settings, adapter_factory=lambda: watch, worker_id=f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    try:
        for thread in threads:
            thread.start()
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while datetime.now(UTC) < deadline and store_truth(store)[0] != set(listing.tasks):
            stop.wait(0.2)
        listing.annotate(5, 2, RESULT)  # then incremental passes, taken by either worker
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while datetime.now(UTC) < deadline and store_truth(store) != label_studio_truth(listing):
            stop.wait(0.2)
        stop.wait(1)  # a few more turns: later passes must not overlap either
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert store_truth(store) == label_studio_truth(listing)
    assert watch.most == 1
    with store.read() as conn:
        assert read_sync_state(conn, 1).holder is None  # both handed the lease back on stop
    store.dispose()


def test_sync_covers_the_relabel_project_and_its_reviews_get_reactions(store, settings, listing):
    """A reviewer's submission in the relabel project, made while the service was down, comes back
    as an ANNOTATION_CREATED event of that project, which the relabel reaction reads."""
    from synctools import FakeListings

    from plugin.store.schema import jobs
    from plugin.store.schema_relabel import relabel_items, relabel_projects

    relabel = FakeProjectListing(2, first_id=5000)
    with store.begin() as conn:
        conn.execute(
            relabel_projects.insert().values(
                source_project_id=1,
                relabel_project_id=2,
                created_by_service=True,
                created_at=datetime.now(UTC),
            )
        )
    listing.add_task()
    w = worker(store, settings, FakeListings(listing, relabel))
    assert w.sync_connected()
    pushed = relabel.add_task("a record sent for review")
    with store.begin() as conn:
        conn.execute(
            relabel_items.insert().values(
                project_id=1,
                dedupe_key="k",
                source_task_id=1,
                reason_kind="gold",
                reason="r",
                prefill=[],
                status="pushed",
                queued_at=datetime.now(UTC),
                relabel_project_id=2,
                relabel_task_id=pushed["id"],
            )
        )
    review = relabel.annotate(pushed["id"], 7, RESULT)  # the reviewer, while the service was down
    assert w.sync_connected()
    found = [(a, b) for a, b, _ in sync_events(store) if a == "ANNOTATION_CREATED"]
    assert [(b["project"]["id"], b["annotation"]["id"]) for _, b in found] == [(2, review["id"])]
    with store.read() as conn:
        assert conn.execute(select(relabel_items.c.review_annotation_id)).scalar_one() == review["id"]
        assert conn.execute(select(jobs.c.kind).where(jobs.c.kind == "relabel_write_back")).first()


def test_the_progress_line_writes_to_the_stderr_of_the_moment_not_of_import(monkeypatch):
    # A stream bound at import time is whatever replaced stderr then (pytest's capture of an earlier
    # test, long closed): writing to it raised "I/O operation on closed file" in later syncs.
    import io

    from plugin.sync.cli import ProgressLine
    from plugin.sync.passes import PassProgress

    now = io.StringIO()
    monkeypatch.setattr("sys.stderr", now)
    line = ProgressLine(7)
    line(PassProgress("full", 10, 3, {}))
    assert "7" in now.getvalue() and line.out is now
