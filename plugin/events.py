"""Parse Label Studio webhook bodies into domain records. Pure: no I/O, no clock.

Shapes are those of Label Studio 1.23 (``shared/payloads``): ``completed_by`` is an int user id,
ANNOTATIONS_CREATED carries lists under the singular key ``annotation``, delete events carry ids
only, and ``project`` is the whole Project model, secret ``token`` included.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from plugin.records import AnnotationRecord, Changes, ProjectRecord, TaskRecord

HANDLED_ACTIONS = (
    "ANNOTATION_CREATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_DELETED",
    "TASKS_CREATED",
    "TASKS_DELETED",
    "PROJECT_UPDATED",
)

# Project fields that change how QA must behave (gold routing, overlap, predictions).
PROJECT_SETTING_KEYS = (
    "sampling",
    "show_overlap_first",
    "maximum_annotations",
    "model_version",
    "show_collab_predictions",
    "overlap_cohort_percentage",
    "evaluate_predictions_automatically",
)

SECRET_PROJECT_KEYS = ("token",)


class EventError(ValueError):
    """The body is JSON but not a Label Studio event we can read."""


def redact(body: dict[str, Any]) -> bool:
    """Drop secrets (the project's API token) from a body in place; True if anything was removed."""
    project = body.get("project")
    removed = False
    if isinstance(project, dict):
        for key in SECRET_PROJECT_KEYS:
            if key in project:
                del project[key]
                removed = True
    return removed


def project_id_of(body: dict[str, Any]) -> int | None:
    project = body.get("project")
    if isinstance(project, dict):
        return _int_or_none(project.get("id"))
    return _int_or_none(project)


def parse_event(body: dict[str, Any]) -> Changes:
    """Turn one webhook body into the changes it describes."""
    action = body.get("action")
    if action not in HANDLED_ACTIONS:
        raise EventError(f"unhandled action {action!r}")
    changes = Changes()
    if isinstance(body.get("lsqa_origin"), str):  # the sync's events for what no webhook announced
        changes.origin = body["lsqa_origin"]
    project = body.get("project")
    pid = project_id_of(body)
    if isinstance(project, dict) and pid is not None:
        changes.projects.append(parse_project(project))
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"):
        changes.tasks.extend(parse_task(t, pid) for t in _as_list(body.get("task")))
        changes.annotations.extend(parse_annotation(a, pid) for a in _as_list(body.get("annotation")))
    elif action == "TASKS_CREATED":
        changes.tasks.extend(parse_task(t, pid) for t in _as_list(body.get("tasks")))
    elif action == "TASKS_DELETED":
        changes.deleted_task_ids.extend(_ids(body.get("tasks")))
    elif action == "ANNOTATIONS_DELETED":
        changes.deleted_annotation_ids.extend(_ids(body.get("annotations")))
    return changes


def parse_project(project: dict[str, Any]) -> ProjectRecord:
    return ProjectRecord(
        id=_require_int(project.get("id"), "project.id"),
        title=project.get("title"),
        label_config=project.get("label_config"),
        settings={k: project[k] for k in PROJECT_SETTING_KEYS if k in project},
    )


def parse_task(task: Any, project_id: int | None) -> TaskRecord:
    if not isinstance(task, dict):
        raise EventError("task is not an object")
    return TaskRecord(
        id=_require_int(task.get("id"), "task.id"),
        project_id=_int_or_none(task.get("project")) or project_id,
        data=task.get("data") or {},
        meta=task.get("meta") or {},
        inner_id=_int_or_none(task.get("inner_id")),
        created_at=parse_time(task.get("created_at")),
        updated_at=parse_time(task.get("updated_at")),
    )


def parse_annotation(annotation: Any, project_id: int | None) -> AnnotationRecord:
    if not isinstance(annotation, dict):
        raise EventError("annotation is not an object")
    result = annotation.get("result") or []
    if not isinstance(result, list):
        raise EventError("annotation.result is not a list")
    lead_time = annotation.get("lead_time")
    return AnnotationRecord(
        id=_require_int(annotation.get("id"), "annotation.id"),
        project_id=_int_or_none(annotation.get("project")) or project_id,
        task_id=_int_or_none(annotation.get("task")),
        annotator_id=user_id_of(annotation.get("completed_by")),
        result=result,
        lead_time=float(lead_time) if isinstance(lead_time, int | float) else None,
        was_cancelled=bool(annotation.get("was_cancelled")),
        ground_truth=bool(annotation.get("ground_truth")),
        created_at=parse_time(annotation.get("created_at")),
        updated_at=parse_time(annotation.get("updated_at")),
    )


def user_id_of(value: Any) -> int | None:
    """``completed_by`` is an id in webhooks but an expanded user object in some API views."""
    if isinstance(value, dict):
        value = value.get("id")
    return _int_or_none(value)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ids(items: Any) -> Iterable[int]:
    for item in _as_list(items):
        yield _require_int(item.get("id") if isinstance(item, dict) else item, "id")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _require_int(value: Any, name: str) -> int:
    result = _int_or_none(value)
    if result is None:
        raise EventError(f"{name} is missing or not an integer")
    return result
