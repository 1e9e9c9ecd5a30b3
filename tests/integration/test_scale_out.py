"""Scale-out as users run it: two ``lsqa serve`` on one PostgreSQL (two hosts behind a load
balancer, docs/deployment.md), with the same settings, against a real Label Studio.

Annotation events go to both receivers in turn, some to both: each is stored once and processed
once, by one of the two workers. The first annotation of each annotator makes a gold copy due: each
copy job runs once (one Label Studio task per copy). ``lsqa sync`` started against both at once:
one pass at a time, neither loses its lease to the other.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from eventfactory import annotation_event
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select
from waiting import wait_for

from plugin.store import Store
from plugin.store.schema import gold_copies, gold_items, inbox, jobs
from plugin.store.schema_sync import sync_state

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
SETTINGS = "worker:\n  poll_interval: 0.05\n  sync_page_size: 20\ngold:\n  onboarding_items: 1\n"
TASKS, ANNOTATORS, EVENTS = 120, 12, 300
FIRST_ANNOTATOR, FIRST_ANNOTATION = 90_001, 700_001


def test_two_services_on_one_database_do_everything_once(
    ls_server: LabelStudioServer, fresh_pg_url: str, tmp_path
):
    project_id = ls_server.create_project("scale-out", LABEL_CONFIG)
    task_ids = ls_server.import_tasks(project_id, [{"text": f"t{i}"} for i in range(TASKS)])
    project = ls_server.api.json("GET", f"/api/projects/{project_id}/")
    services = [
        ServiceProcess(
            tmp_path,
            fresh_pg_url,
            label_studio_url=ls_server.url,
            api_key=ls_server.admin_pat,
            extra=SETTINGS,
        )
        for _ in range(2)
    ]
    store = Store(fresh_pg_url)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # both boot at once, as two hosts would
            list(pool.map(ServiceProcess.start, services))
        services[0].cli("connect", "--project", str(project_id), "--no-sync")
        add_gold_items(store, project_id)

        # Events to both receivers in turn; every fourth one to the other receiver as well.
        bodies = [annotation_body(n, project, task_ids) for n in range(EVENTS)]
        sends = [(services[n % 2], body) for n, body in enumerate(bodies)]
        sends += [(services[(n + 1) % 2], body) for n, body in enumerate(bodies) if n % 4 == 0]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda send: send[0].post(send[1]).status_code, sends))
        assert Counter(statuses) == {200: len(sends)}
        wait_for(lambda: copies_done(store), what="a gold copy per annotator", timeout=120)

        wait_for(lambda: drained(store), what="every event processed", timeout=60)

        # Two `lsqa sync` at once, one against each service, while the workers may sync too.
        def full_sync(service: ServiceProcess) -> subprocess.CompletedProcess[str]:
            return service.cli("sync", "--project", str(project_id), "--full", check=False)

        holders = HolderWatch(store, project_id)
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                runs = list(pool.map(full_sync, services))
        finally:
            seen = holders.stop()
        wait_for(lambda: drained(store), what="every event processed", timeout=60)

        events = inbox_rows(store)
        copies, copy_jobs = copy_rows(store)
        logs = [service.log.read_text() for service in services]
        ls_tasks = set(ls_server.list_task_ids(project_id))
    finally:
        for service in services:
            service.stop()
        store.dispose()

    # Each event stored once however many receivers got it, claimed once, applied once.
    sent = [row for row in events if event_annotation(row) in annotation_ids()]
    assert Counter(map(event_annotation, sent)) == dict.fromkeys(annotation_ids(), 1)
    assert {(row.status, row.attempts) for row in events} == {("done", 1)}
    assert len({row.processed_by for row in sent}) == 2  # both services' workers did their share

    # Each copy job ran once: one copy, one Label Studio task each.
    assert len(copy_jobs) == ANNOTATORS and {status for status, _ in copy_jobs} == {"done"}
    assert sorted(annotator for annotator, _ in copies) == list(annotators())
    copy_tasks = {task for _, task in copies}
    assert len(copy_tasks) == ANNOTATORS and ls_tasks == set(task_ids) | copy_tasks

    # One sync at a time: both commands ran a full pass to its end without losing the lease, each
    # held it once, from start to end.
    assert all(run.returncode == 0 and "full pass" in run.stdout for run in runs), [r.stderr for r in runs]
    commands = [holder for holder in seen if holder.startswith("sync-command:")]
    assert len(commands) == len(set(commands)) == 2, seen
    assert not any("lease lost" in log for log in logs)


def annotators() -> range:
    return range(FIRST_ANNOTATOR, FIRST_ANNOTATOR + ANNOTATORS)


def annotation_ids() -> range:
    return range(FIRST_ANNOTATION, FIRST_ANNOTATION + EVENTS)


def annotation_body(n: int, project: dict, task_ids: list[int]) -> bytes:
    """The n-th annotation: on task n (mod TASKS), by annotator n (mod ANNOTATORS)."""
    body = annotation_event(FIRST_ANNOTATION + n, task_ids[n % TASKS], FIRST_ANNOTATOR + n % ANNOTATORS)
    body["project"] = project
    body["annotation"].update(project=project["id"], result=RESULT)
    body["task"].update(project=project["id"], data={"text": f"t{n % TASKS}"})
    return json.dumps(body).encode()


def add_gold_items(store: Store, project_id: int) -> None:
    now = datetime.now(UTC)
    with store.begin() as conn:
        for n in range(3):
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id, data={"text": f"golden {n}"}, expert_result=RESULT,
                    classes=["a"], origin="cli", created_at=now, updated_at=now,
                )
            )  # fmt: skip


def copy_rows(store: Store) -> tuple[list[tuple[int, int]], list[tuple[str, int]]]:
    with store.read() as conn:
        copies = conn.execute(select(gold_copies.c.annotator_id, gold_copies.c.task_id)).all()
        copy_jobs = conn.execute(
            select(jobs.c.status, jobs.c.attempts).where(jobs.c.kind == "create_copy")
        ).all()
    return [tuple(c) for c in copies], [tuple(j) for j in copy_jobs]


def copies_done(store: Store) -> bool:
    _, copy_jobs = copy_rows(store)
    return len(copy_jobs) == ANNOTATORS and all(status != "pending" for status, _ in copy_jobs)


def drained(store: Store) -> bool:
    with store.inbox_read() as conn:
        return conn.execute(select(inbox.c.id).where(inbox.c.status == "pending").limit(1)).first() is None


def inbox_rows(store: Store) -> list:
    with store.inbox_read() as conn:
        return conn.execute(
            select(inbox.c.action, inbox.c.body, inbox.c.status, inbox.c.attempts, inbox.c.processed_by)
        ).all()


def event_annotation(row) -> int | None:
    """The annotation a webhook of ours was about (None for other events: the sync's, Label Studio's)."""
    body = json.loads(row.body)
    if row.action != "ANNOTATION_CREATED" or body.get("lsqa_origin") == "sync":
        return None
    return int(body["annotation"]["id"])


class HolderWatch:
    """Notes every holder of a project's sync lease, in order (a holder that came back after
    another is noted twice)."""

    def __init__(self, store: Store, project_id: int) -> None:
        self.store, self.project_id = store, project_id
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with self.store.read() as conn:
                holder = conn.execute(
                    select(sync_state.c.holder).where(sync_state.c.project_id == self.project_id)
                ).scalar()
            if holder is not None and (not self.seen or self.seen[-1] != holder):
                self.seen.append(holder)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        return self.seen
