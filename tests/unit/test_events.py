import pytest
from eventfactory import payload

from plugin.events import EventError, parse_event, redact


def test_parse_event_annotation_created_gives_task_and_annotation():
    changes = parse_event(payload("ANNOTATION_CREATED"))
    (annotation,) = changes.annotations
    assert annotation.id == 5 and annotation.task_id == 9 and annotation.annotator_id == 1
    assert annotation.result[0]["value"]["choices"] == ["pos"]
    assert annotation.lead_time == 3.2 and not annotation.was_cancelled and not annotation.ground_truth
    assert [t.id for t in changes.tasks] == [9]
    assert changes.tasks[0].data == {"text": "new A"}
    assert changes.projects[0].id == 1


def test_parse_event_annotations_created_reads_the_singular_key_as_a_list():
    body = payload("ANNOTATIONS_CREATED")
    changes = parse_event(body)
    assert [a.id for a in changes.annotations] == [a["id"] for a in body["annotation"]]
    assert len(changes.tasks) == len(body["task"])


def test_parse_event_deletions_carry_ids_only():
    assert parse_event(payload("ANNOTATIONS_DELETED")).deleted_annotation_ids == [6]
    body = payload("TASKS_DELETED")
    assert parse_event(body).deleted_task_ids == [t["id"] for t in body["tasks"]]


def test_parse_event_tasks_created_and_project_updated():
    body = payload("TASKS_CREATED")
    assert [t.id for t in parse_event(body).tasks] == [t["id"] for t in body["tasks"]]
    project = parse_event(payload("PROJECT_UPDATED")).projects[0]
    assert project.id == 1 and "sampling" in project.settings


def test_parse_event_expanded_completed_by_becomes_an_id():
    body = payload("ANNOTATION_CREATED")
    body["annotation"]["completed_by"] = {"id": 7, "email": "a@b"}
    assert parse_event(body).annotations[0].annotator_id == 7


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(action="NOPE"),
        lambda b: b["annotation"].update(id="x"),
        lambda b: b["annotation"].update(result="not a list"),
        lambda b: b.update(task=["not an object"]),
    ],
)
def test_parse_event_rejects_malformed_bodies(mutate):
    body = payload("ANNOTATION_CREATED")
    mutate(body)
    with pytest.raises(EventError):
        parse_event(body)


def test_redact_removes_the_project_token():
    body = {"action": "X", "project": {"id": 1, "token": "secret-token"}}
    assert redact(body) is True
    assert "token" not in body["project"]
    assert redact(body) is False
