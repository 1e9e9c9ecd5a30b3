"""Relabeling end to end: a real Label Studio, the real service, a real reviewer.

A flagged annotator's work goes to a relabel project the service creates, pre-filled as a
prediction the reviewer sees in their labeling stream; the reviewer's correction comes back to the
source task through our webhook as a new annotation, and the task is tagged ``relabeled``.
"""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from lsharness import Annotator, LabelStudioServer
from servicefixtures import API_TOKEN, ServiceProcess
from sqlalchemy import func, select
from waiting import wait_for

from plugin.cli import main
from plugin.store import Store
from plugin.store.schema import annotations, annotator_states, flags, gold_items, inbox, jobs
from plugin.store.schema_relabel import relabel_items

pytestmark = pytest.mark.integration

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""


def choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def lsqa(capsys: pytest.CaptureFixture[str], service: ServiceProcess, *args: str) -> str:
    """An ``lsqa`` command in this process (a subprocess would pay the imports again)."""
    capsys.readouterr()
    assert main(["--config", str(service.config), *args]) == 0
    return capsys.readouterr().out


def count(store: Store, query: Any, *, inbox: bool = False) -> int:
    with store.inbox_read() if inbox else store.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_flagged_work_is_relabeled_and_written_back_once(
    ls_server: LabelStudioServer,
    make_annotator: Callable[[], Annotator],
    sqlite_url: str,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_id = ls_server.create_project("relabel e2e", CONFIG)
    task_ids = ls_server.import_tasks(project_id, [{"text": f"review {i}"} for i in range(4)])
    flagged, reviewer = make_annotator(), make_annotator()
    made = [  # the flagged annotator's work, made through the admin API (the test is not about the UI)
        ls_server.api.json(
            "POST", f"/api/tasks/{t}/annotations/", json={"result": choice("neg"), "completed_by": flagged.id}
        )["id"]
        for t in task_ids[:2]
    ]
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 3600\n",  # gold on: the reviewer's write-back must not start it
    ).start()
    store = Store(sqlite_url)
    try:
        lsqa(
            capsys, service, "connect", "--project", str(project_id)
        )  # webhook + initial sync of the work above
        with store.begin() as conn:  # the flag as review.py leaves it (cheap: not what this test is about)
            first = conn.execute(select(func.min(annotations.c.created_at))).scalar_one()
            conn.execute(
                flags.insert().values(
                    project_id=project_id,
                    annotator_id=flagged.id,
                    status="open",
                    raised_at=first,
                    decline_started_at=first - timedelta(seconds=1),
                    evidence={},
                )
            )
            conn.execute(  # a gold library: the reviewer's write-back would start their onboarding
                gold_items.insert().values(
                    project_id=project_id, data={"text": "golden"}, expert_result=choice("pos"),
                    classes=["pos"], origin="cli", created_at=first, updated_at=first,
                )
            )  # fmt: skip
        pushed = lsqa(capsys, service, "relabel", "push", "--project", str(project_id))
        assert "2 flagged" in pushed and "2 newly queued" in pushed and "2 pushed" in pushed, pushed
        listing = json.loads(lsqa(capsys, service, "relabel", "list", "--project", str(project_id), "--json"))
        relabel_project = listing["relabel_project_id"]
        assert relabel_project and {i["annotation_id"] for i in listing["items"]} == set(made)

        task = reviewer.next_task(relabel_project)  # exactly what the labeling UI receives
        assert task is not None
        assert [p["result"] for p in task["predictions"]] == [choice("neg")]
        assert "flagged for requalification" in task["data"]["lsqa_reason"]
        source_task = task["meta"]["source_task"]
        reviewer.submit(task["id"], choice("pos"), project_id=relabel_project)

        corrected = select(func.count()).where(relabel_items.c.status == "corrected")
        wait_for(lambda: count(store, corrected) == 1, what="the write-back", timeout=30)
        source = ls_server.api.json("GET", f"/api/tasks/{source_task}/")
        assert source["meta"]["relabeled"] is True
        assert source["meta"]["relabel"][0]["reviewer"] == reviewer.id
        by_user = {
            a["completed_by"]: a["result"]
            for a in ls_server.api.json("GET", f"/api/tasks/{source_task}/annotations/")
        }
        assert by_user == {flagged.id: choice("neg"), reviewer.id: choice("pos")}  # the original stays
        # The write-back's ANNOTATION_CREATED came back to us (sent while the job's create call ran):
        # it is not the reviewer's regular work, so no gold schedule starts for them.
        unprocessed = select(func.count()).where(inbox.c.status != "done")
        wait_for(lambda: count(store, unprocessed, inbox=True) == 0, what="the inbox", timeout=30)
        created = select(func.count()).where(inbox.c.action == "ANNOTATION_CREATED")
        assert count(store, created, inbox=True) >= 2
        assert count(store, select(func.count()).where(annotator_states.c.annotator_id == reviewer.id)) == 0
        assert (
            count(store, select(func.count()).where(jobs.c.dedupe_key.like(f"copy:%:{reviewer.id}:%"))) == 0
        )

        again = lsqa(capsys, service, "relabel", "push", "--project", str(project_id))
        assert "0 newly queued" in again, again
        assert len(ls_server.list_task_ids(relabel_project)) == 2

        answer = requests.get(
            f"{service.base_url}/api/v1/projects/{project_id}/relabel",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=5,
        ).json()
        done = [i for i in answer["items"] if i["status"] == "corrected"]
        assert answer["relabel_project_id"] == relabel_project and len(answer["items"]) == 2
        assert done[0]["corrected_by"] == reviewer.id and done[0]["source_task_id"] == source_task
        assert done[0]["gold_verified"] is None  # not gold-backed
    finally:
        service.stop()
        store.dispose()
