"""Gold copies made by one import on a real Label Studio: the copy arrives with a helper skip for
every other member of the organization (cancelled, not ground truth, no webhook of their own), is
served to its target only, and is deleted once answered; the next copy, which Label Studio gives the
deleted copy's id (SQLite import reuses it), is recognized as a copy too."""

import json
import time
from datetime import UTC, datetime

import pytest
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select

from plugin.store import Store
from plugin.store.schema import gold_answers, gold_copies, gold_items, inbox
from plugin.store.schema_agreement import agreement_tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]


def wait_for(predicate, timeout=180, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_copies_made_by_one_import_reach_their_target_only(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("gold by import", LABEL_CONFIG)
    # Before connecting: these real tasks form no agreement sample (whose overlap would be served
    # before the copies); the copies' own TASKS_CREATED then must not form one either.
    real_ids = set(ls_server.import_tasks(project_id, [{"text": f"real {i}"} for i in range(10)]))
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\ngold:\n  onboarding_items: 2\n",
    ).start()
    store = Store(sqlite_url)
    try:
        service.cli("connect", "--project", str(project_id), "--no-sync")
        now = datetime.now(UTC)
        with store.begin() as conn:
            for text in ("golden 1", "golden 2", "golden 3"):
                conn.execute(
                    gold_items.insert().values(
                        project_id=project_id, data={"text": text}, expert_result=RESULT, classes=["a"],
                        origin="cli", created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        target, other, third = make_annotator(), make_annotator(), make_annotator()
        admin_id = int(ls_server.api.json("GET", "/api/current-user/whoami")["id"])
        members = {int(u["id"]) for u in ls_server.api.json("GET", "/api/users/")}

        def live_copy():
            with store.read() as conn:
                return conn.execute(
                    select(gold_copies.c.id, gold_copies.c.task_id).where(gold_copies.c.state == "live")
                ).first()

        first = target.next_task(project_id)
        target.submit(first["id"], RESULT, project_id=project_id)  # an onboarding copy is now due
        copy_id, task_id = wait_for(live_copy, what="the first copy")

        # In Label Studio: one cancelled, non-ground-truth skip per other member; overlap 2; servable.
        task = ls_server.api.json("GET", f"/api/tasks/{task_id}/")
        skips = task["annotations"]
        assert sorted(_user(a["completed_by"]) for a in skips) == sorted(members - {target.id, admin_id})
        assert all(a["was_cancelled"] and not a["ground_truth"] and a["result"] == [] for a in skips)
        assert (task["overlap"], task["is_labeled"]) == (2, False)

        for person in (other, third):  # everyone else is kept away from it (they only look: a
            served = person.next_task(project_id)  # submission would make their own copies due)
            assert served["id"] in real_ids
        assert target.next_task(project_id)["id"] == task_id
        target.submit(task_id, RESULT, project_id=project_id)

        def second_copy():
            with store.read() as conn:
                rows = conn.execute(
                    select(gold_copies.c.id, gold_copies.c.task_id, gold_copies.c.state)
                ).all()
            return rows if len(rows) == 2 and rows[0].state == "deleted" and rows[1].state == "live" else None

        (_, first_task, _), (_, second_task, _) = wait_for(second_copy, what="the second copy")
        # The first copy is gone and SQLite import handed its id to the next one.
        assert second_task == first_task == task_id
        assert ls_server.api.json("GET", f"/api/tasks/{task_id}/")["data"]["text"] != task["data"]["text"]
        served = target.next_task(project_id)
        assert served["id"] == second_task and served["data"]["text"].startswith("golden")
        target.submit(second_task, RESULT, project_id=project_id)

        def answers():
            with store.read() as conn:
                rows = conn.execute(select(gold_answers.c.annotator_id, gold_answers.c.purpose)).all()
            return rows if len(rows) == 2 else None

        assert sorted(wait_for(answers, what="both gold answers")) == [(target.id, "onboarding")] * 2

        def all_deleted():
            with store.read() as conn:
                states = conn.execute(select(gold_copies.c.state)).scalars().all()
            return states == ["deleted", "deleted"]

        wait_for(all_deleted, what="both copies deleted")
        assert set(ls_server.list_task_ids(project_id)) == real_ids
        export = ls_server.admin.projects.exports.as_json(project_id)
        exported = json.loads(export) if isinstance(export, (str, bytes)) else export
        assert {t["id"] for t in exported} == real_ids
        assert not [a for t in exported for a in t["annotations"] if a["was_cancelled"]]
        with store.read() as conn:
            sampled = set(conn.execute(select(agreement_tasks.c.task_id)).scalars())
        assert first_task not in sampled  # the copies' TASKS_CREATED formed no agreement batch
        with store.inbox_read() as conn:  # import sent no webhook for the helper skips
            bodies = conn.execute(
                select(inbox.c.body).where(inbox.c.action == "ANNOTATION_CREATED")
            ).scalars()
            authors = {_user(json.loads(b)["annotation"]["completed_by"]) for b in bodies}
        assert authors == {target.id}
    finally:
        service.stop()
        store.dispose()


def _user(value):
    return int(value["id"]) if isinstance(value, dict) else int(value)
