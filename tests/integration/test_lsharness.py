"""The Label Studio harness itself: users with their own tokens label through the UI's calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lsharness import Annotator, LabelStudioHTTPError, LabelStudioServer

pytestmark = pytest.mark.integration

LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>
"""


def choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def test_server_admin_is_authenticated_through_its_pat(ls_server: LabelStudioServer) -> None:
    assert ls_server.url.startswith("http://127.0.0.1:")
    assert ls_server.admin.users.whoami().email == ls_server.admin_email


def test_import_tasks_returns_the_created_ids(ls_server: LabelStudioServer) -> None:
    project_id = ls_server.create_project("harness import", LABEL_CONFIG)

    ids = ls_server.import_tasks(project_id, [{"text": f"t{i}"} for i in range(5)])

    assert len(ids) == 5
    assert ls_server.list_task_ids(project_id) == ids
    ls_server.delete_tasks(project_id, ids[:2])
    assert ls_server.list_task_ids(project_id) == ids[2:]


def test_annotators_label_the_stream_under_their_own_user_ids(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator]
) -> None:
    project_id = ls_server.create_project("harness stream", LABEL_CONFIG, maximum_annotations=3)
    task_ids = ls_server.import_tasks(project_id, [{"text": f"t{i}"} for i in range(4)])
    annotators = [make_annotator() for _ in range(3)]
    assert len({annotator.id for annotator in annotators}) == 3
    assert len({annotator.pat for annotator in annotators}) == 3

    for annotator in annotators:
        seen = []
        while (task := annotator.next_task(project_id)) is not None:
            created = annotator.submit(task["id"], choice("pos"), project_id=project_id, lead_time=2.5)
            assert created["completed_by"] == annotator.id
            assert created["task"] == task["id"]
            seen.append(task["id"])
        assert sorted(seen) == task_ids

    annotations = ls_server.admin.annotations.list(id=task_ids[0])
    assert sorted(a.completed_by for a in annotations) == sorted(a.id for a in annotators)


def test_skip_update_and_delete(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator]
) -> None:
    project_id = ls_server.create_project("harness skip", LABEL_CONFIG)
    first, second = ls_server.import_tasks(project_id, [{"text": "a"}, {"text": "b"}])
    annotator = make_annotator()

    task = annotator.next_task(project_id)
    assert task is not None and task["id"] == first
    skipped = annotator.skip(first, project_id=project_id)
    assert skipped["was_cancelled"] is True and skipped["completed_by"] == annotator.id

    task = annotator.next_task(project_id)
    assert task is not None and task["id"] == second
    created = annotator.submit(second, choice("pos"), project_id=project_id)
    updated = annotator.update(created["id"], choice("neg"))
    assert updated["result"][0]["value"]["choices"] == ["neg"]

    assert annotator.next_task(project_id) is None  # skipped tasks do not come back in the stream
    ls_server.delete_annotation(created["id"])
    assert ls_server.admin.annotations.list(id=second) == []


def test_annotator_sdk_client_and_errors(
    ls_server: LabelStudioServer, make_annotator: Callable[[], Annotator]
) -> None:
    annotator = make_annotator()
    assert annotator.client.users.whoami().id == annotator.id

    with pytest.raises(LabelStudioHTTPError) as excinfo:
        annotator.update(999_999, choice("pos"))
    assert excinfo.value.status == 404
    assert "999999" in str(excinfo.value)
