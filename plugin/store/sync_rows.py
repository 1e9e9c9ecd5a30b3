"""What the store holds for one page of a sync, and what the inbox received after a point.

The sync compares a page of Label Studio's tasks with these rows and turns the differences into
events (``plugin.sync``); these are its only reads of the domain tables and the inbox.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from plugin.store.domain import CHUNK
from plugin.store.inbox import PENDING
from plugin.store.schema import annotations, inbox, tasks
from plugin.store.timestamps import as_utc


@dataclass(frozen=True)
class StoredAnnotation:
    id: int
    task_id: int | None
    annotator_id: int | None
    result: Any
    was_cancelled: bool
    ground_truth: bool
    updated_at: datetime | None
    deleted: bool


@dataclass(frozen=True)
class StoredTask:
    id: int
    data: Any
    meta: Any
    deleted: bool


def stored_tasks(conn: Connection, task_ids: list[int]) -> dict[int, StoredTask]:
    found: dict[int, StoredTask] = {}
    columns = (tasks.c.id, tasks.c.data, tasks.c.meta, tasks.c.deleted)
    for start in range(0, len(task_ids), CHUNK):
        chunk = task_ids[start : start + CHUNK]
        for row in conn.execute(select(*columns).where(tasks.c.id.in_(chunk))):
            found[row.id] = StoredTask(row.id, row.data, row.meta, bool(row.deleted))
    return found


def stored_annotations(
    conn: Connection, task_ids: list[int], annotation_ids: list[int]
) -> dict[int, StoredAnnotation]:
    """Annotations on these tasks, and these annotations wherever they are (by id)."""
    found: dict[int, StoredAnnotation] = {}
    columns = (
        annotations.c.id,
        annotations.c.task_id,
        annotations.c.annotator_id,
        annotations.c.result,
        annotations.c.was_cancelled,
        annotations.c.ground_truth,
        annotations.c.updated_at,
        annotations.c.deleted,
    )
    for start in range(0, max(len(task_ids), len(annotation_ids)), CHUNK):
        where = or_(
            annotations.c.task_id.in_(task_ids[start : start + CHUNK]),
            annotations.c.id.in_(annotation_ids[start : start + CHUNK]),
        )
        for row in conn.execute(select(*columns).where(where)):
            updated = as_utc(row.updated_at) if row.updated_at is not None else None
            found[row.id] = StoredAnnotation(
                row.id,
                row.task_id,
                row.annotator_id,
                row.result,
                bool(row.was_cancelled),
                bool(row.ground_truth),
                updated,
                bool(row.deleted),
            )
    return found


def live_task_ids_between(conn: Connection, project_id: int, after_id: int, upto_id: int | None) -> set[int]:
    """The project's live tasks with ``after_id < id <= upto_id`` (no upper bound when None)."""
    query = select(tasks.c.id).where(
        tasks.c.project_id == project_id, tasks.c.deleted.is_(False), tasks.c.id > after_id
    )
    if upto_id is not None:
        query = query.where(tasks.c.id <= upto_id)
    return set(conn.execute(query).scalars())


def inbox_bodies_after(conn: Connection, after_id: int, project_id: int) -> list[tuple[str, str]]:
    """(action, body) of the events received after ``after_id`` for this project (or for none: Label
    Studio's delete-all names no project)."""
    query = (
        select(inbox.c.action, inbox.c.body)
        .where(inbox.c.id > after_id, or_(inbox.c.project_id == project_id, inbox.c.project_id.is_(None)))
        .order_by(inbox.c.id)
    )
    return [(row.action, row.body) for row in conn.execute(query)]


def processed_up_to(conn: Connection, event_id: int) -> bool:
    """Whether every inbox event up to ``event_id`` has left the pending state."""
    query = select(inbox.c.id).where(inbox.c.status == PENDING, inbox.c.id <= event_id).limit(1)
    return conn.execute(query).first() is None
