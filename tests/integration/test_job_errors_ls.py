"""Jobs against a real Label Studio that refuses, is busy, or loses an answer.

Label Studio itself makes the 403 (a token of a user removed from the organization) and the 404 (a
deleted project). A fault-injecting proxy (tests/faultproxy.py) makes what it cannot on demand: a
503 with Retry-After, and an answer lost after the call took effect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faultproxy import Fault, FaultProxy
from lsharness import Annotator, LabelStudioServer
from sqlalchemy import select, update

from plugin.gold.injector import GoldInjector
from plugin.jobs import Job, enqueue_job, finish_job, retry_when_unreachable, run_due_jobs
from plugin.labelstudio import LabelStudioAdapter
from plugin.store import Store
from plugin.store.schema import alerts, jobs
from plugin.store.timestamps import as_utc

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store(sqlite_url)
    store.migrate()
    yield store
    store.dispose()


def run_twice(store: Store, handlers: dict[str, Callable[[Job], None]]) -> None:
    """Run due jobs, make every pending job due again, run again: a job still retried shows up."""
    run_due_jobs(store, handlers)
    with store.begin() as conn:
        conn.execute(update(jobs).values(run_after=datetime.now(UTC) - timedelta(seconds=1)))
    run_due_jobs(store, handlers)


def job_rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(jobs).where(jobs.c.kind != "send_alert")).mappings()]


def alert_kinds(store: Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(select(alerts.c.kind)).scalars())


def enqueue_repairs(store: Store, project_id: int, n: int = 1) -> None:
    with store.begin() as conn:
        for i in range(n):
            enqueue_job(
                conn,
                "repair_project",
                f"repair:{project_id}:{i}",
                {"project_id": project_id},
                project_id=project_id,
            )


def removed_member_key(ls_server: LabelStudioServer, annotator: Annotator) -> str:
    """The legacy key of a user then removed from the organization: Label Studio answers it 403."""
    ls_server.enable_legacy_tokens()
    key = str(annotator.api.json("GET", "/api/current-user/token")["token"])
    org = ls_server.api.json("GET", "/api/current-user/whoami")["active_organization"]
    ls_server.api.json("DELETE", f"/api/organizations/{org}/memberships/{annotator.id}/")
    return key


def test_a_403_fails_each_job_once_and_alerts_once(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator], store: Store
) -> None:
    if not ls_server.version_at_least(1, 23):
        # Measured with bench/compat.py: on 1.22.0 the removed member's key still creates annotations
        pytest.skip(f"Label Studio {ls_server.version} does not refuse a removed member's key")
    project_id = ls_server.create_project("refused", LABEL_CONFIG)
    (task_id,) = ls_server.import_tasks(project_id, [{"text": "sampled"}])
    key = removed_member_key(ls_server, make_annotator())
    with LabelStudioAdapter(ls_server.url, key) as adapter:

        def add_skip(job: Job) -> None:  # what OverlapSetter and the gold injector send
            adapter.create_annotation(task_id, result=[], was_cancelled=True)
            with store.begin() as conn:
                finish_job(conn, job.id)

        with store.begin() as conn:
            for i in range(2):
                enqueue_job(conn, "add_skip", f"skip:{i}", {}, project_id=project_id)
        run_twice(store, {"add_skip": retry_when_unreachable(add_skip)})

    rows = job_rows(store)
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1), ("failed", 1)]
    assert all(" 403 " in r["last_error"] for r in rows), rows[0]["last_error"]
    assert alert_kinds(store) == ["job_failed"]
    assert ls_server.api.json("GET", f"/api/tasks/{task_id}/")["total_annotations"] == 0


def test_a_deleted_project_fails_the_job_for_good(ls_server: LabelStudioServer, store: Store) -> None:
    project_id = ls_server.create_project("deleted soon", LABEL_CONFIG, show_overlap_first=True)
    ls_server.api.json("DELETE", f"/api/projects/{project_id}/")
    with LabelStudioAdapter(ls_server.url, ls_server.admin_pat) as adapter:
        enqueue_repairs(store, project_id)
        run_twice(store, GoldInjector(store, lambda: adapter).handlers())
    ((status, attempts, error),) = [(r["status"], r["attempts"], r["last_error"]) for r in job_rows(store)]
    assert (status, attempts) == ("failed", 1) and "404" in error
    assert alert_kinds(store) == ["job_failed"]


def test_a_503_is_retried_after_retry_after(ls_server: LabelStudioServer, store: Store) -> None:
    project_id = ls_server.create_project("busy", LABEL_CONFIG, show_overlap_first=True)
    with (
        FaultProxy(ls_server.url) as proxy,
        LabelStudioAdapter(proxy.url, ls_server.admin_pat, max_retries=0) as adapter,
    ):
        proxy.faults.append(
            Fault("GET", f"/api/projects/{project_id}/", status=503, headers={"Retry-After": "40"})
        )
        handlers = GoldInjector(store, lambda: adapter).handlers()
        enqueue_repairs(store, project_id)
        before = datetime.now(UTC)
        run_due_jobs(store, handlers)
        ((job,),) = [job_rows(store)]
        assert (job["status"], job["attempts"]) == ("pending", 1)
        assert as_utc(job["run_after"]) >= before + timedelta(seconds=40)
        run_twice(store, handlers)
    assert [r["status"] for r in job_rows(store)] == ["done"]
    assert alert_kinds(store) == []


def test_a_lost_answer_does_not_create_a_second_task_or_annotation(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator], store: Store
) -> None:
    project_id = ls_server.create_project("lost answers", LABEL_CONFIG)
    ls_server.import_tasks(project_id, [{"text": f"older {i}"} for i in range(3)])
    annotator = make_annotator()
    made: dict[str, int] = {}
    with FaultProxy(ls_server.url) as proxy, LabelStudioAdapter(proxy.url, ls_server.admin_pat) as adapter:

        def create_copy(job: Job) -> None:  # the shape of GoldInjector._create_copy
            if "task" not in made:
                made["task"] = int(adapter.create_task(project_id, {"text": "a gold copy"})["id"])
            adapter.create_annotation(made["task"], result=[], completed_by=annotator.id, was_cancelled=True)
            with store.begin() as conn:
                finish_job(conn, job.id)

        # Attempt 1: the task is created, its answer lost. Attempt 2: the task is found; the helper
        # skip is created, its answer lost. Attempt 3: the skip is found.
        proxy.faults.append(Fault("POST", "/api/tasks/", times=2, drop_answer=True))
        with store.begin() as conn:
            enqueue_job(conn, "create_copy", "copy:1", {})
        for _ in range(2):
            run_twice(store, {"create_copy": retry_when_unreachable(create_copy)})
        task_posts = proxy.count("POST", "/api/tasks/") - proxy.count("POST", f"/api/tasks/{made['task']}/")

    assert [(r["status"], r["attempts"]) for r in job_rows(store)] == [("done", 2)]
    tasks = ls_server.api.json("GET", f"/api/tasks/?project={project_id}&fields=all")["tasks"]
    copies = [t for t in tasks if t["data"]["text"] == "a gold copy"]
    assert task_posts == 1 and len(copies) == 1 and copies[0]["meta"] == {}
    by = [a["completed_by"] for a in copies[0]["annotations"]]
    assert [b["id"] if isinstance(b, dict) else b for b in by] == [annotator.id]


def test_a_lost_import_answer_does_not_import_a_second_gold_copy(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator], store: Store
) -> None:
    """The gold route imports the copy with its helper skips in one call (plugin.gold.injector):
    when that call's answer is lost, the retry finds the first attempt's copy by its marker."""
    project_id = ls_server.create_project("lost imports", LABEL_CONFIG)
    annotator = make_annotator()
    made: dict[str, int] = {}
    with FaultProxy(ls_server.url) as proxy, LabelStudioAdapter(proxy.url, ls_server.admin_pat) as adapter:

        def create_copy(job: Job) -> None:  # the shape of GoldInjector._create_copy
            made["task"] = adapter.import_task_skipped_by(project_id, {"text": "a gold copy"}, [annotator.id])
            adapter.update_task(made["task"], overlap=2, is_labeled=False, meta={})
            with store.begin() as conn:
                finish_job(conn, job.id)

        proxy.faults.append(Fault("POST", f"/api/projects/{project_id}/import", times=1, drop_answer=True))
        with store.begin() as conn:
            enqueue_job(conn, "create_copy", "copy:1", {})
        for _ in range(2):
            run_twice(store, {"create_copy": retry_when_unreachable(create_copy)})
        imports = proxy.count("POST", f"/api/projects/{project_id}/import")

    assert [(r["status"], r["attempts"]) for r in job_rows(store)] == [("done", 1)]
    tasks = ls_server.api.json("GET", f"/api/tasks/?project={project_id}&fields=all")["tasks"]
    copies = [t for t in tasks if t["data"]["text"] == "a gold copy"]
    assert imports == 1 and len(copies) == 1 and copies[0]["meta"] == {}
    assert made["task"] == copies[0]["id"] and copies[0]["overlap"] == 2
