"""The audit trail's worker hook: every annotation the service receives is a fact on the trail.

Recorded per annotation: who (``annotator:<id>``), which task, when (Label Studio's time and, as
the row's own ``created_at``, ours), and the flags that matter (skipped, ground truth). Never the
result. One event's annotations go in with one :func:`plugin.audit.trail.record_many` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from plugin.audit.trail import Entry, record_many
from plugin.audit.trail_facts import annotator
from plugin.jobs import Job
from plugin.records import AnnotationRecord, Changes
from plugin.settings import Settings
from plugin.store.schema import annotations as annotation_table

# Label Studio action -> audit kind
ANNOTATION_KINDS = {
    "ANNOTATION_CREATED": "annotation.received",
    "ANNOTATIONS_CREATED": "annotation.received",
    "ANNOTATION_UPDATED": "annotation.updated",
}
LOOKUP_CHUNK = 500


def react_to_event(
    conn: Connection, action: str, changes: Changes, settings: Settings, event_id: int
) -> None:
    """Called by the worker in the event's transaction, after the domain rows are written."""
    if action in ANNOTATION_KINDS:
        kind = ANNOTATION_KINDS[action]
        record_many(conn, (_received(kind, a, event_id) for a in changes.annotations))
    elif action == "ANNOTATIONS_DELETED" and changes.deleted_annotation_ids:
        fallback = changes.projects[0].id if changes.projects else None
        record_many(conn, _deleted(conn, changes.deleted_annotation_ids, fallback, event_id))


def _received(kind: str, annotation: AnnotationRecord, event_id: int) -> Entry:
    moment = annotation.updated_at if kind == "annotation.updated" else annotation.created_at
    facts = {
        "annotation_id": annotation.id,
        "event_id": event_id,
        "at": moment,
        "was_cancelled": annotation.was_cancelled,
        "ground_truth": annotation.ground_truth,
        "lead_time": annotation.lead_time,
    }
    return Entry(
        kind,
        project_id=annotation.project_id,
        actor=annotator(annotation.annotator_id),
        subject=None if annotation.task_id is None else f"task:{annotation.task_id}",
        facts=facts,
    )


def _deleted(
    conn: Connection, annotation_ids: list[int], fallback_project: int | None, event_id: int
) -> list[Entry]:
    """Delete events carry ids only: who and which task come from the (now tombstoned) records."""
    known: dict[int, Any] = {}
    columns = (
        annotation_table.c.id,
        annotation_table.c.project_id,
        annotation_table.c.task_id,
        annotation_table.c.annotator_id,
    )
    for start in range(0, len(annotation_ids), LOOKUP_CHUNK):
        chunk = annotation_ids[start : start + LOOKUP_CHUNK]
        known.update(
            (row.id, row) for row in conn.execute(select(*columns).where(annotation_table.c.id.in_(chunk)))
        )
    entries = []
    for annotation_id in annotation_ids:
        row = known.get(annotation_id)
        entries.append(
            Entry(
                "annotation.deleted",
                project_id=row.project_id if row is not None else fallback_project,
                actor=None,  # Label Studio does not say who deleted it
                subject=f"task:{row.task_id}" if row is not None and row.task_id is not None else None,
                facts={
                    "annotation_id": annotation_id,
                    "annotator_id": row.annotator_id if row is not None else None,
                    "event_id": event_id,
                },
            )
        )
    return entries


def job_handlers(
    store: Any, adapter_factory: Callable[[], Any], settings: Settings
) -> dict[str, Callable[[Job], None]]:
    """Handlers for the durable jobs this feature enqueues (``plugin.jobs``): none."""
    return {}
