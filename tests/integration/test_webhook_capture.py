"""Real webhook deliveries of this Label Studio version, as our receiver will get them.

Set ``LSQA_RECORD_WEBHOOKS=<dir>`` to also write each captured body to ``<dir>/<ACTION>.json`` (fresh samples
for receiver tests; ``tests/artifacts/`` is git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lsharness import Annotator, CapturedRequest, LabelStudioServer, WebhookCapture

pytestmark = pytest.mark.integration

SECRET_HEADER = ("X-LSQA-Secret", "s3cr3t-for-tests")
ACTIONS = [
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_DELETED",
    "TASKS_CREATED",
    "TASKS_DELETED",
    "PROJECT_UPDATED",
]
LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>
"""


def choice(value: str) -> list[dict[str, object]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def capture() -> Iterator[WebhookCapture]:
    with WebhookCapture() as hook:
        yield hook


def record(request: CapturedRequest) -> None:
    target = os.environ.get("LSQA_RECORD_WEBHOOKS")
    if target and request.action:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{request.action}.json").write_bytes(request.body)


def test_every_handled_action_arrives_with_the_secret_header(
    ls_server: LabelStudioServer, capture: WebhookCapture, make_annotator: Callable[[], Annotator]
) -> None:
    project_id = ls_server.create_project("webhook capture", LABEL_CONFIG)
    ls_server.admin.webhooks.create(
        url=capture.url,
        project=project_id,
        headers=dict([SECRET_HEADER]),
        send_payload=True,
        send_for_all_actions=False,
        actions=ACTIONS,  # type: ignore[arg-type]
    )
    annotator = make_annotator()

    task_ids = ls_server.import_tasks(project_id, [{"text": "first"}, {"text": "second"}])
    task = annotator.next_task(project_id)
    assert task is not None
    created = annotator.submit(task["id"], choice("pos"), project_id=project_id)
    annotator.update(created["id"], choice("neg"))
    ls_server.delete_annotation(created["id"])
    ls_server.delete_tasks(project_id, [task_ids[1]])
    ls_server.api.json("PATCH", f"/api/projects/{project_id}/", json={"title": "webhook capture renamed"})

    for action in ACTIONS:
        (request,) = capture.wait_for(action, timeout=10)
        record(request)
        assert request.header(SECRET_HEADER[0]) == SECRET_HEADER[1]
        assert request.header("Content-Type") == "application/json"
        assert request.json()["project"]["id"] == project_id

    def body(action: str) -> dict[str, object]:
        payload: dict[str, object] = capture.of_action(action)[0].json()
        return payload

    assert [t["id"] for t in body("TASKS_CREATED")["tasks"]] == task_ids  # type: ignore[attr-defined]
    annotation = body("ANNOTATION_CREATED")["annotation"]
    assert annotation["id"] == created["id"] and annotation["completed_by"] == annotator.id  # type: ignore[index]
    assert body("ANNOTATION_UPDATED")["annotation"]["result"] == choice("neg")  # type: ignore[index]
    assert body("ANNOTATIONS_DELETED")["annotations"] == [{"id": created["id"]}]
    assert body("TASKS_DELETED")["tasks"] == [{"id": task_ids[1]}]
    assert body("PROJECT_UPDATED")["project"]["title"] == "webhook capture renamed"  # type: ignore[index]
