"""An outage, end to end on a real Label Studio: while the service is stopped annotators answer
their gold copies, label, change and delete annotations, and tasks are imported. After the restart
the sync turns all of it into events: every gold answer is scored, every copy harvested and deleted
(none stays ``live``), each annotator gets gold again, and the store equals Label Studio."""

import signal
import time
from datetime import UTC, datetime

import pytest
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import func, select

from plugin.labelstudio import LabelStudioAdapter
from plugin.store import Store
from plugin.store.schema import annotations, gold_answers, gold_copies, gold_items, tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
OTHER = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]


def wait_for(predicate, timeout=300, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def copies(store, state=None):
    query = select(gold_copies.c.annotator_id, gold_copies.c.task_id, gold_copies.c.state).order_by(
        gold_copies.c.id
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [r for r in rows if state is None or r.state == state]


def scored(store):
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(gold_answers)).scalar_one()


def store_matches(store, adapter, project_id):
    found = list(adapter.iter_tasks(project_id))
    truth = ({t["id"] for t in found}, {a["id"] for t in found for a in t["annotations"]})
    with store.read() as conn:
        live_tasks = set(
            conn.execute(
                select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.deleted.is_(False))
            ).scalars()
        )
        live_annotations = set(
            conn.execute(
                select(annotations.c.id).where(
                    annotations.c.project_id == project_id, annotations.c.deleted.is_(False)
                )
            ).scalars()
        )
    return (live_tasks, live_annotations) == truth


def add_gold(store, project_id, n):
    now = datetime.now(UTC)
    with store.begin() as conn:
        for i in range(n):
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id,
                    data={"text": f"golden {i}"},
                    expert_result=RESULT,
                    classes=["a"],
                    origin="cli",
                    created_at=now,
                    updated_at=now,
                )
            )


def test_work_done_during_an_outage_gets_every_reaction_after_the_restart(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("sync outage", LABEL_CONFIG)
    ls_server.import_tasks(project_id, [{"text": f"real {i}"} for i in range(40)])
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 3600\n  poll_interval: 0.05\ngold:\n  onboarding_items: 3\n",
    )
    service.start(timeout=240)  # a busy machine: imports alone may take a minute
    store = Store(sqlite_url)
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    try:
        assert "initial sync" in service.cli("connect", "--project", str(project_id)).stdout
        add_gold(store, project_id, 12)
        annotators = [make_annotator() for _ in range(2)]
        for annotator in annotators:
            annotator.submit(annotator.next_task(project_id)["id"], OTHER, project_id=project_id)
        wait_for(lambda: len(copies(store, "live")) == 2, what="a live copy for each annotator")

        service.kill(signal.SIGKILL)  # the outage, abrupt: Label Studio's deliveries are lost from here on
        regular = []
        for annotator in annotators:
            task = annotator.next_task(project_id)
            assert task["data"]["text"].startswith("golden"), "the copy should come first"
            annotator.submit(task["id"], RESULT, project_id=project_id)
            for _ in range(2):
                regular.append(
                    annotator.submit(annotator.next_task(project_id)["id"], OTHER, project_id=project_id)
                )
        annotators[0].update(regular[0]["id"], RESULT)
        ls_server.delete_annotation(regular[1]["id"])
        ls_server.import_tasks(project_id, [{"text": "imported while down"}])

        service.start(timeout=240)  # the start-up sync recovers it all
        wait_for(lambda: scored(store) == 2, what="both gold answers scored")
        first_copies = copies(store)[:2]
        wait_for(lambda: all(c.state == "deleted" for c in copies(store)[:2]), what="the copies deleted")
        ls_task_ids = set(ls_server.list_task_ids(project_id))
        assert not {c.task_id for c in first_copies} & ls_task_ids, "a harvested copy stayed in Label Studio"
        # Each annotator is still on onboarding (3 items): their next copy is made.
        wait_for(lambda: len(copies(store)) >= 4, what="the next copies after the recovered answers")
        # Those next copies bring their helper skips in the import that creates them, and Label
        # Studio sends no ANNOTATION_CREATED for imported annotations: the next pass records them.
        service.cli("sync", "--project", str(project_id))
        wait_for(lambda: store_matches(store, adapter, project_id), what="the store to equal Label Studio")
    finally:
        service.stop()
        adapter.close()
        store.dispose()
