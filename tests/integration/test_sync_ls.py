"""The sync against a real Label Studio 1.23: what its incremental pass relies on holds (creating,
updating and deleting an annotation all move the task's updated_at, which the Data Manager filters
on), and each kind of change comes back as an event marked as the sync's."""

import json
from collections import Counter

import pytest
from lsharness import LabelStudioServer
from sqlalchemy import select

from plugin.labelstudio import LabelStudioAdapter
from plugin.settings import load_settings
from plugin.store import Store
from plugin.store.schema import annotations, inbox, projects, tasks
from plugin.worker import Worker

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""


def result(value):
    return [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


class CountingAdapter:
    """The real adapter, counting which listing calls the sync makes."""

    def __init__(self, adapter):
        self._adapter = adapter
        self.calls = Counter()

    def __getattr__(self, name):
        self.calls[name] += 1
        return getattr(self._adapter, name)


def truth(adapter, project_id):
    found = list(adapter.iter_tasks(project_id))
    return {t["id"] for t in found}, {a["id"]: a["result"] for t in found for a in t["annotations"]}


def stored(store, project_id):
    with store.read() as conn:
        live_tasks = conn.execute(
            select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.deleted.is_(False))
        ).scalars()
        rows = conn.execute(
            select(annotations.c.id, annotations.c.result).where(
                annotations.c.project_id == project_id, annotations.c.deleted.is_(False)
            )
        )
        return set(live_tasks), {r.id: r.result for r in rows}


def sync_actions(store):
    with store.inbox_read() as conn:
        rows = conn.execute(select(inbox.c.action, inbox.c.body, inbox.c.status)).all()
    assert all(json.loads(r.body)["lsqa_origin"] == "sync" and r.status == "done" for r in rows)
    return Counter(r.action for r in rows)


def test_incremental_sync_sees_annotations_created_updated_and_deleted(
    ls_server: LabelStudioServer, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("sync incremental", LABEL_CONFIG)
    ids = ls_server.import_tasks(project_id, [{"text": f"t{i}"} for i in range(30)])
    api = ls_server.api
    made = [
        api.json("POST", f"/api/tasks/{ids[i]}/annotations/", json={"result": result("a")}) for i in range(4)
    ]
    config = tmp_path / "lsqa.yaml"
    config.write_text("gold:\n  enabled: false\nworker:\n  sync_page_size: 10\n")
    env = {
        "LABEL_STUDIO_URL": ls_server.url,
        "LABEL_STUDIO_API_KEY": ls_server.admin_pat,
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": sqlite_url,
    }
    settings = load_settings(config, env=env)
    store = Store(sqlite_url)
    store.migrate()
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    counting = CountingAdapter(adapter)
    try:
        with store.begin() as conn:
            conn.execute(projects.insert().values(id=project_id, title="p", connected=True, seq=0))
        worker = Worker(store, settings, adapter_factory=lambda: counting)
        assert worker.sync_connected()  # the baseline: history, recorded as it is
        assert stored(store, project_id) == truth(adapter, project_id)
        assert sync_actions(store) == Counter()

        created = api.json("POST", f"/api/tasks/{ids[10]}/annotations/", json={"result": result("b")})
        api.json("PATCH", f"/api/annotations/{made[1]['id']}/", json={"result": result("b")})
        ls_server.delete_annotation(made[2]["id"])
        new_ids = ls_server.import_tasks(project_id, [{"text": "late"}, {"text": "later"}])
        counting.calls.clear()
        assert worker.sync_connected()
        assert counting.calls["tasks_after"] == 0  # only what changed was listed, not the project
        assert counting.calls["tasks_changed_after"] >= 1
        live_tasks, live_annotations = stored(store, project_id)
        assert (live_tasks, live_annotations) == truth(adapter, project_id)
        assert created["id"] in live_annotations and made[2]["id"] not in live_annotations
        assert live_annotations[made[1]["id"]] == result("b") and set(new_ids) <= live_tasks
        assert sync_actions(store) == Counter(
            {"ANNOTATION_CREATED": 1, "ANNOTATION_UPDATED": 1, "ANNOTATIONS_DELETED": 1, "TASKS_CREATED": 1}
        )
        assert worker.sync_connected()  # nothing changed since: no new events
        assert sum(sync_actions(store).values()) == 4
    finally:
        adapter.close()
        store.dispose()
