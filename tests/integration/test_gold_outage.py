"""Label Studio stops answering while a gold copy is due: nothing crashes, no event is lost, and
the copy is made once Label Studio is back."""

import json
from datetime import UTC, datetime

import pytest
import requests
from eventfactory import payload
from lsharness import LabelStudioServer
from servicefixtures import SECRET, ServiceProcess
from sqlalchemy import select
from waiting import wait_for

from plugin.store import Store
from plugin.store.schema import gold_copies, gold_items, inbox, jobs

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]


def test_a_copy_due_during_an_outage_is_made_afterwards(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("gold outage", LABEL_CONFIG)
    ls_server.import_tasks(project_id, [{"text": f"real {i}"} for i in range(10)])
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\ngold:\n  onboarding_items: 1\n",
    )
    # Give up on Label Studio after 2 s rather than 10, so the outage shows quickly.
    service.config.write_text(service.config.read_text().replace("  api_key:", "  timeout: 2\n  api_key:", 1))
    service.start()
    store = Store(sqlite_url)
    try:
        service.cli("connect", "--project", str(project_id), "--no-sync")
        now = datetime.now(UTC)
        with store.begin() as conn:
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id,
                    data={"text": "golden"},
                    expert_result=RESULT,
                    classes=["a"],
                    origin="cli",
                    created_at=now,
                    updated_at=now,
                )
            )
        annotator = make_annotator()
        task = annotator.next_task(project_id)
        with ls_server.frozen():
            # The annotator's first submission, as Label Studio reports it; a copy is now due, and
            # every call the service makes to Label Studio hangs.
            body = payload("ANNOTATION_CREATED")
            body["project"]["id"] = project_id
            body["annotation"].update(
                id=900_001, task=task["id"], project=project_id, completed_by=annotator.id, result=RESULT
            )
            body["task"].update(id=task["id"], project=project_id)
            answer = requests.post(
                service.webhook_url,
                data=json.dumps(body),
                timeout=5,
                headers={"Content-Type": "application/json", "X-LSQA-Secret": SECRET},
            )
            assert answer.status_code == 200

            def postponed():
                with store.read() as conn:
                    return bool(conn.execute(select(jobs.c.id).where(jobs.c.attempts >= 1)).first())

            wait_for(postponed, timeout=30, what="the copy job to try (and fail)")
            assert requests.get(f"{service.base_url}/healthz", timeout=5).status_code == 200
            assert service.proc.poll() is None
        wait_for(lambda: _copy_state(store) == "live", timeout=90, what="the copy")
        # The copy's TASKS_CREATED reaches the inbox just before it goes live: let the worker
        # finish it, then every event must have been processed (none failed or parked).
        wait_for(lambda: not _pending_events(store), timeout=60, what="every event processed")
        with store.inbox_read() as conn:
            assert conn.execute(select(inbox.c.status)).scalars().all() == ["done"] * len(
                conn.execute(select(inbox.c.id)).all()
            )
        annotator.submit(task["id"], RESULT, project_id=project_id)
        assert annotator.next_task(project_id)["data"] == {"text": "golden"}
    finally:
        service.stop()
        store.dispose()


def _copy_state(store):
    with store.read() as conn:
        return conn.execute(select(gold_copies.c.state)).scalar_one_or_none()


def _pending_events(store):
    with store.inbox_read() as conn:
        return conn.execute(select(inbox.c.id).where(inbox.c.status == "pending")).first() is not None
