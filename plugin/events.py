"""Parse Label Studio webhook bodies into domain records. Pure: no I/O, no clock.

Shapes are those of Label Studio 1.23 (``shared/payloads``): ``completed_by`` is an int user id,
ANNOTATIONS_CREATED carries lists under the singular key ``annotation``, delete events carry ids
only, and ``project`` is the whole Project model, secret ``token`` included.
"""

from __future__ import annotations

import json
import math
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

# Label Studio's ids are positive 64-bit integers; anything outside cannot be stored (SQLite and
# PostgreSQL BIGINT) and would fail the event later, or the group of events written with it.
MAX_ID = 2**63 - 1


class EventError(ValueError):
    """The body is JSON but not a Label Studio event we can read. Permanent: the same body fails
    the same way every time, so it is refused at the door or parked at once, never retried."""


def load_body(raw: bytes | str) -> Any:
    """Decode a webhook body; EventError (with a reason safe to show the sender) if it is not
    JSON we can store: invalid, nested too deeply, or holding NaN/Infinity, which Python reads
    but JSON, and PostgreSQL's JSON columns, do not allow."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise EventError("body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise EventError("body is not valid JSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
    """The event's project id, None when it names none; EventError when it names a bad one."""
    project = body.get("project")
    if isinstance(project, dict):
        return _optional_id(project.get("id"), "project.id")
    return _optional_id(project, "project")


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
        id=_require_id(project.get("id"), "project.id"),
        title=project.get("title"),
        label_config=project.get("label_config"),
        settings={k: project[k] for k in PROJECT_SETTING_KEYS if k in project},
    )


def parse_task(task: Any, project_id: int | None) -> TaskRecord:
    if not isinstance(task, dict):
        raise EventError("task is not an object")
    return TaskRecord(
        id=_require_id(task.get("id"), "task.id"),
        project_id=_optional_id(task.get("project"), "task.project") or project_id,
        data=_object_or_empty(task.get("data"), "task.data"),
        meta=_object_or_empty(task.get("meta"), "task.meta"),
        inner_id=_optional_id(task.get("inner_id"), "task.inner_id"),
        created_at=parse_time(task.get("created_at")),
        updated_at=parse_time(task.get("updated_at")),
    )


def parse_annotation(annotation: Any, project_id: int | None) -> AnnotationRecord:
    if not isinstance(annotation, dict):
        raise EventError("annotation is not an object")
    result = annotation.get("result") or []
    if not isinstance(result, list):
        raise EventError("annotation.result is not a list")
    if not all(isinstance(item, dict) for item in result):
        raise EventError("annotation.result holds an item that is not an object")
    lead_time = annotation.get("lead_time")
    return AnnotationRecord(
        id=_require_id(annotation.get("id"), "annotation.id"),
        project_id=_optional_id(annotation.get("project"), "annotation.project") or project_id,
        task_id=_optional_id(annotation.get("task"), "annotation.task"),
        annotator_id=user_id_of(annotation.get("completed_by")),
        result=result,
        lead_time=_seconds(lead_time),
        was_cancelled=bool(annotation.get("was_cancelled")),
        ground_truth=bool(annotation.get("ground_truth")),
        created_at=parse_time(annotation.get("created_at")),
        updated_at=parse_time(annotation.get("updated_at")),
    )


def user_id_of(value: Any) -> int | None:
    """``completed_by`` is an id in webhooks but an expanded user object in some API views."""
    if isinstance(value, dict):
        value = value.get("id")
    return _optional_id(value, "completed_by")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _seconds(value: Any) -> float | None:
    """A duration, or None for anything that is not a finite number (``1e999`` overflows)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ids(items: Any) -> Iterable[int]:
    for item in _as_list(items):
        yield _require_id(item.get("id") if isinstance(item, dict) else item, "id")


def _object_or_empty(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(f"{name} is not an object")
    return value


def _optional_id(value: Any, name: str) -> int | None:
    return None if value is None else _require_id(value, name)


def _require_id(value: Any, name: str) -> int:
    """An id: an int (or a string of ASCII digits) from 1 to 2^63 - 1. Not a bool, and not
    ``"²"``, whose ``isdigit()`` is true but which ``int()`` refuses."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise EventError(f"{name} is missing or not an integer from 1 to 2^63-1")
    return value
