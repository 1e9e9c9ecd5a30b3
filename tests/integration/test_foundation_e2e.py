"""The foundation end to end: a real Label Studio, the real service, both store engines.

Every annotation made in a connected project reaches the store exactly once, including those
made while the service was down, which the start-up sync recovers.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from lsharness import Annotator, LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select
from waiting import wait_for

from plugin.labelstudio import LabelStudioAdapter
from plugin.store import Store
from plugin.store.schema import annotations, tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>
"""


def choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def label(annotators: list[Annotator], project_id: int, count: int) -> dict[int, int]:
    """Annotators take turns through the labeling stream; returns annotation id -> user id."""
    made: dict[int, int] = {}
    while len(made) < count:
        for annotator in annotators:
            if len(made) == count:
                break
            task = annotator.next_task(project_id)
            assert task is not None, "the stream ran dry"
            created = annotator.submit(
                task["id"], choice("pos" if len(made) % 3 else "neg"), project_id=project_id
            )
            made[created["id"]] = annotator.id
    return made


def stored_annotations(store: Store, project_id: int) -> dict[int, int]:
    with store.read() as conn:
        rows = conn.execute(
            select(annotations.c.id, annotations.c.annotator_id).where(
                annotations.c.project_id == project_id, annotations.c.deleted.is_(False)
            )
        )
        return dict(rows.all())


def stored_task_ids(store: Store, project_id: int) -> set[int]:
    with store.read() as conn:
        query = select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.deleted.is_(False))
        return set(conn.execute(query).scalars())


def label_studio_truth(adapter: LabelStudioAdapter, project_id: int) -> tuple[set[int], dict[int, int]]:
    task_ids, made = set(), {}
    for task in adapter.iter_tasks(project_id):
        task_ids.add(task["id"])
        made.update({a["id"]: a["completed_by"] for a in task["annotations"]})
    return task_ids, made


def test_annotations_reach_the_store_exactly_once_and_outages_are_recovered(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator], store_url: str, tmp_path
) -> None:
    project_id = ls_server.create_project("foundation e2e", LABEL_CONFIG)
    ls_server.import_tasks(project_id, [{"text": f"review {i}"} for i in range(90)])
    service = ServiceProcess(
        tmp_path,
        store_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 3600\n",
    ).start()
    store = Store(store_url)
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    try:
        first = service.cli("connect", "--project", str(project_id)).stdout
        assert f"Label Studio {ls_server.version} (Community)" in first and "created webhook" in first
        again = service.cli("connect", "--project", str(project_id)).stdout
        assert "already up to date" in again and "created" not in again
        assert len(adapter.list_webhooks(project_id)) == 1

        annotators = [make_annotator() for _ in range(3)]
        made = label(annotators, project_id, 50)
        wait_for(lambda: len(stored_annotations(store, project_id)) >= 50, what="50 annotations")
        assert stored_annotations(store, project_id) == made

        service.stop()  # an outage: Label Studio's deliveries now fail and are never retried
        made.update(label(annotators, project_id, 20))
        for annotation_id in sorted(made)[:5]:
            ls_server.delete_annotation(annotation_id)
            del made[annotation_id]
        assert len(stored_annotations(store, project_id)) == 50  # nothing arrived meanwhile

        service.start()  # the worker reconciles at start-up
        truth_tasks, truth_annotations = label_studio_truth(adapter, project_id)
        assert truth_annotations == made
        wait_for(lambda: stored_annotations(store, project_id) == made, what="the sync")
        assert stored_task_ids(store, project_id) == truth_tasks

        status = json.loads(service.cli("status", "--project", str(project_id), "--json").stdout)
        assert status["tasks"] == 90 and status["annotations"] == 65 and status["annotators"] == 3
        assert status["connected"] is True and status["last_synced_at"] is not None
        assert status["inbox"] == {"pending": 0, "failed": 0}
    finally:
        service.stop()
        store.dispose()
        adapter.close()
