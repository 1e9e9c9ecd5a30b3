"""The differences between a page of Label Studio and the store, as the webhooks Label Studio would
have sent for them. Pure: no I/O.

The worker reads these synthetic events from the inbox exactly as it reads live ones, so whatever
the sync recovers gets the same reactions (gold answers scored and copies harvested, ground truth
followed, agreement progress counted, relabel write-backs, the audit trail). Each carries
``"lsqa_origin": "sync"`` at the top level; the shapes are described in ``docs/sync.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plugin.events import parse_time, user_id_of
from plugin.store.inbox import InboxEvent
from plugin.store.sync_rows import StoredAnnotation, StoredTask

ORIGIN_KEY = "lsqa_origin"
ORIGIN = "sync"


@dataclass
class Touched:
    """Ids that live events received after the page's watermark speak about: they outrank the page."""

    tasks: set[int] = field(default_factory=set)
    annotations: set[int] = field(default_factory=set)

    def add_body(self, action: str, body: dict[str, Any]) -> None:
        if action in ("TASKS_CREATED", "TASKS_DELETED"):
            self.tasks.update(_ids(body.get("tasks")))
        elif action == "ANNOTATIONS_DELETED":
            self.annotations.update(_ids(body.get("annotations")))
        elif action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"):
            self.annotations.update(_ids(body.get("annotation")))


@dataclass
class PageDiff:
    """What one page changes: events for the inbox, and task edits (Label Studio sends no webhook
    for those, so there is nothing to react to: they are written as they are)."""

    events: list[InboxEvent] = field(default_factory=list)
    edited_tasks: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, action: str, project_id: int, body: dict[str, Any], identity: str, n: int = 1) -> None:
        body = {"action": action, ORIGIN_KEY: ORIGIN, **body, "project": {"id": project_id}}
        key = hashlib.sha256(f"lsqa-sync|{action}|{project_id}|{identity}".encode()).hexdigest()
        self.events.append(InboxEvent(key, action, project_id, json.dumps(body, separators=(",", ":"))))
        self.counts[action] = self.counts.get(action, 0) + n


def diff_page(
    project_id: int,
    page: list[dict[str, Any]],
    tasks_in_store: dict[int, StoredTask],
    annotations_in_store: dict[int, StoredAnnotation],
    touched: Touched,
    vanished_task_ids: Iterable[int] = (),
) -> PageDiff:
    """Events for a page of Label Studio tasks (each with all its annotations, as the adapter lists
    them). ``vanished_task_ids``: live tasks of the store the page proves deleted (full passes)."""
    diff = PageDiff()
    new_tasks = []
    for task in page:
        stored = tasks_in_store.get(task["id"])
        if (stored is None or stored.deleted) and task["id"] not in touched.tasks:
            new_tasks.append(_bare(task))
        elif stored is not None and not stored.deleted and _task_edited(task, stored):
            diff.edited_tasks.append(_bare(task))
    if new_tasks:
        identity = ",".join(f"{t['id']}@{t.get('created_at')}" for t in new_tasks)
        diff.add("TASKS_CREATED", project_id, {"tasks": new_tasks}, identity, len(new_tasks))
    _annotation_events(diff, project_id, page, annotations_in_store, touched)
    gone_tasks = sorted(set(vanished_task_ids) - touched.tasks)
    if gone_tasks:
        body = {"tasks": [{"id": i} for i in gone_tasks]}
        diff.add("TASKS_DELETED", project_id, body, ",".join(map(str, gone_tasks)), len(gone_tasks))
    return diff


def _annotation_events(
    diff: PageDiff,
    project_id: int,
    page: list[dict[str, Any]],
    in_store: dict[int, StoredAnnotation],
    touched: Touched,
) -> None:
    in_label_studio: set[int] = set()
    found = []
    for task in page:
        for annotation in task.get("annotations") or []:
            in_label_studio.add(annotation["id"])
            if annotation["id"] in touched.annotations:
                continue
            stored = in_store.get(annotation["id"])
            if stored is None or stored.deleted:
                found.append(("ANNOTATION_CREATED", annotation, task))
            elif _annotation_changed(annotation, stored):
                found.append(("ANNOTATION_UPDATED", annotation, task))
    # In the order they were made, as the webhooks would have come.
    found.sort(key=lambda item: (str(item[1].get("updated_at") or ""), item[1]["id"]))
    for action, annotation, task in found:
        body = {"annotation": annotation, "task": _bare(task)}
        diff.add(
            action,
            project_id,
            body,
            f"{annotation['id']}@{annotation.get('updated_at')}@{_digest(annotation)}",
        )
    page_task_ids = {task["id"] for task in page}
    gone = sorted(
        a.id
        for a in in_store.values()
        if not a.deleted
        and a.task_id in page_task_ids
        and a.id not in in_label_studio
        and a.id not in touched.annotations
    )
    if gone:
        body = {"annotations": [{"id": i} for i in gone]}
        diff.add("ANNOTATIONS_DELETED", project_id, body, ",".join(map(str, gone)), len(gone))


def _annotation_changed(annotation: dict[str, Any], stored: StoredAnnotation) -> bool:
    """What the reactions read changed. Label Studio's ``updated_at`` alone is not trusted: it also
    moves on writes that send no webhook."""
    return (
        (annotation.get("result") or []) != (stored.result or [])
        or bool(annotation.get("ground_truth")) != stored.ground_truth
        or bool(annotation.get("was_cancelled")) != stored.was_cancelled
        or user_id_of(annotation.get("completed_by")) != stored.annotator_id
        or annotation.get("task") != stored.task_id
    )


def _task_edited(task: dict[str, Any], stored: StoredTask) -> bool:
    return (task.get("data") or {}) != (stored.data or {}) or (task.get("meta") or {}) != (stored.meta or {})


def _bare(task: dict[str, Any]) -> dict[str, Any]:
    """The task as a webhook carries it: without its annotations."""
    return {key: value for key, value in task.items() if key != "annotations"}


def _digest(annotation: dict[str, Any]) -> str:
    content = json.dumps(
        [annotation.get("result"), annotation.get("ground_truth"), annotation.get("was_cancelled")],
        sort_keys=True,
    )
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _ids(items: Any) -> Iterable[int]:
    for item in items if isinstance(items, list) else [items]:
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, int) and not isinstance(value, bool):
            yield value


def newest_change(page: list[dict[str, Any]]) -> str | None:
    """The latest ``updated_at`` of the page's tasks, as Label Studio wrote it."""
    stamps = [t["updated_at"] for t in page if isinstance(t.get("updated_at"), str)]
    return max(stamps, key=lambda s: parse_time(s) or s) if stamps else None
