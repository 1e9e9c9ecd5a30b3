"""The relabel loop without a command: a real Label Studio, the real service on a short push interval.

A flagged annotator's suspect work reaches the relabel project by the worker's schedule alone; the
flag shows as a Data Manager tab listing exactly their suspect tasks (which carry the flag in their
meta), the tab grows with their new work, a reviewer's fix is written back, and the tab and the
meta marks go away when the flag clears.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lsharness import Annotator, LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import func, select, update
from test_relabel_e2e import CONFIG, choice, count, lsqa
from waiting import wait_for

from plugin.store import Store
from plugin.store.schema import annotations, flags
from plugin.store.schema_relabel import relabel_items, relabel_projects

pytestmark = pytest.mark.integration

REASON = "accuracy 0.55 on the last 20 gold answers, below 0.90"


def flag_tabs(ls: LabelStudioServer, project_id: int) -> list[dict[str, Any]]:
    views = ls.api.json("GET", "/api/dm/views/", params={"project": project_id})
    return [v for v in views if str(v["data"].get("title", "")).startswith("QA flag #")]


def tab_task_ids(ls: LabelStudioServer, project_id: int, view_id: int) -> set[int]:
    answer = ls.api.json(
        "GET", "/api/tasks/", params={"view": view_id, "project": project_id, "page_size": 100}
    )
    return {t["id"] for t in answer["tasks"]}


def meta_of(ls: LabelStudioServer, task_id: int) -> dict[str, Any]:
    return dict(ls.api.json("GET", f"/api/tasks/{task_id}/").get("meta") or {})


def test_flagged_work_reaches_review_by_schedule_and_the_flag_tab_follows_the_flag(
    ls_server: LabelStudioServer,
    make_annotator: Callable[[], Annotator],
    sqlite_url: str,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_id = ls_server.create_project("relabel loop e2e", CONFIG)
    task_ids = ls_server.import_tasks(project_id, [{"text": f"loop {i}"} for i in range(6)])
    flagged, reviewer, other = make_annotator(), make_annotator(), make_annotator()

    def annotate(who: Annotator, task_id: int, value: str) -> None:
        body = {"result": choice(value), "completed_by": who.id}
        ls_server.api.json("POST", f"/api/tasks/{task_id}/annotations/", json=body)

    for t in task_ids[:3]:
        annotate(flagged, t, "neg")
    annotate(other, task_ids[3], "pos")  # someone else's work: never in the tab
    ls_server.api.json("PATCH", f"/api/tasks/{task_ids[0]}/", json={"meta": {"source": "crm"}})
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 3600\nrelabel:\n  push_interval: 2\n  cl_enabled: false\n",
    ).start()
    store = Store(sqlite_url)
    try:
        lsqa(capsys, service, "connect", "--project", str(project_id))
        with store.begin() as conn:  # the flag as review.py leaves it
            first = conn.execute(select(func.min(annotations.c.created_at))).scalar_one()
            flag_id = conn.execute(
                flags.insert()
                .values(
                    project_id=project_id,
                    annotator_id=flagged.id,
                    status="open",
                    raised_at=first,
                    decline_started_at=first - timedelta(seconds=1),
                    evidence={"reason": REASON},
                )
                .returning(flags.c.id)
            ).scalar_one()

        pushed = select(func.count()).where(relabel_items.c.status == "pushed")
        wait_for(lambda: count(store, pushed) == 3, what="the scheduled push", timeout=240)  # no command run
        suspects = set(task_ids[:3])
        wait_for(lambda: len(flag_tabs(ls_server, project_id)) == 1, what="the flag's tab", timeout=180)
        (tab,) = flag_tabs(ls_server, project_id)
        assert tab["data"]["title"].startswith(f"QA flag #{flag_id}: {flagged.email}")
        assert REASON in tab["data"]["title"]
        wait_for(lambda: all("lsqa_flags" in meta_of(ls_server, t) for t in suspects), what="the meta marks")
        assert tab_task_ids(ls_server, project_id, tab["id"]) == suspects
        assert meta_of(ls_server, task_ids[0])["source"] == "crm"  # existing meta keys stay
        assert "lsqa_flags" not in meta_of(ls_server, task_ids[3])

        annotate(flagged, task_ids[4], "neg")  # the suspect work grows: so does the tab
        suspects.add(task_ids[4])
        wait_for(
            lambda: tab_task_ids(ls_server, project_id, tab["id"]) == suspects,
            what="the tab to grow",
            timeout=180,
        )

        with store.read() as conn:
            relabel_project = conn.execute(select(relabel_projects.c.relabel_project_id)).scalar_one()
        task = reviewer.next_task(relabel_project)
        assert task is not None and "flagged for requalification" in task["data"]["lsqa_reason"]
        source_task = task["meta"]["source_task"]
        reviewer.submit(task["id"], choice("pos"), project_id=relabel_project)
        corrected = select(func.count()).where(relabel_items.c.status == "corrected")
        wait_for(lambda: count(store, corrected) == 1, what="the write-back", timeout=180)
        written = meta_of(ls_server, source_task)
        assert written["relabeled"] is True and "lsqa_flags" in written

        with store.begin() as conn:  # the annotator passed their quiz
            conn.execute(
                update(flags)
                .where(flags.c.id == flag_id)
                .values(status="cleared", cleared_at=datetime.now(UTC))
            )
        wait_for(lambda: flag_tabs(ls_server, project_id) == [], what="the tab to go", timeout=180)
        wait_for(
            lambda: not any("lsqa_flags" in meta_of(ls_server, t) for t in suspects),
            what="the marks to go",
            timeout=60,
        )
        assert meta_of(ls_server, task_ids[0])["source"] == "crm"
        assert meta_of(ls_server, source_task)["relabeled"] is True
    except AssertionError:
        print(service.log.read_text()[-6000:])  # what the worker did, shown by pytest on failure
        raise
    finally:
        service.stop()
        store.dispose()
