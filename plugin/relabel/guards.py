"""What the other features must know about relabeling, with no imports beyond the store's tables.

* the relabel project is nobody's regular project: its tasks form no agreement batch and get no gold,
  and its events only drive the relabel write-back;
* a correction written back to a source task is a new annotation by the reviewer
  (``plugin.relabel.jobs``), not independent work: the gold schedule does not count it and batch
  agreement does not take it as a task's second rating.

Label Studio sends the write-back's ``ANNOTATION_CREATED`` while the create call is still running,
so its event may be processed before the job records the new annotation's id. The reviewer's
submission in the relabel project is recorded before the write-back job is even enqueued, so a write-
back is recognized without that id: an annotation by the reviewer of a corrected item on the item's
source task, newer than their review (Label Studio's annotation ids grow across projects), or the
annotation id the job recorded. An annotation the reviewer made on that task before reviewing it
stays their ordinary work.
"""

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, literal, or_, select

from plugin.store.schema import annotations, projects
from plugin.store.schema_relabel import relabel_items, relabel_projects


def is_relabel_project(conn: Connection, project_id: int | None) -> bool:
    if project_id is None:
        return False
    query = select(relabel_projects.c.source_project_id).where(
        relabel_projects.c.relabel_project_id == project_id
    )
    return conn.execute(query).first() is not None


def is_connected_source(conn: Connection, project_id: int | None) -> bool:
    """A project QA works on (gold, agreement, ground truth): connected, and not a relabel project
    (a named relabel project may have been connected by mistake)."""
    if project_id is None:
        return False
    query = select(projects.c.connected).where(projects.c.id == project_id)
    return bool(conn.execute(query).scalar_one_or_none()) and not is_relabel_project(conn, project_id)


def write_back_condition(task_id: Any, annotator_id: Any, annotation_id: Any = None) -> ColumnElement[bool]:
    """True for a write-back: arguments are columns (correlated, e.g. of ``annotations``) or values;
    without an annotation id, any annotation of the reviewer on the task after a correction."""
    corrected = [
        relabel_items.c.source_task_id == task_id,
        relabel_items.c.corrected_by == annotator_id,
        relabel_items.c.review_annotation_id.is_not(None),
    ]
    if annotation_id is not None:
        corrected.append(
            or_(
                relabel_items.c.review_annotation_id < annotation_id,
                relabel_items.c.written_annotation_id == annotation_id,
            )
        )
    return exists(select(literal(1)).where(and_(*corrected)))


def not_written_back() -> ColumnElement[bool]:
    """A filter on ``annotations``: leaves out the write-backs."""
    return ~write_back_condition(annotations.c.task_id, annotations.c.annotator_id, annotations.c.id)


def is_write_back(
    conn: Connection, task_id: int | None, annotator_id: int | None, annotation_id: int | None = None
) -> bool:
    """Is this annotation a reviewer's correction written back to its source task?"""
    if task_id is None or annotator_id is None:
        return False
    return bool(conn.execute(select(write_back_condition(task_id, annotator_id, annotation_id))).scalar())
