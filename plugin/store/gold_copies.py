"""Reads of the gold copies that still exist in Label Studio, one task or many at once."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from plugin.store.schema import gold_copies

LIVE_STATES = ("creating", "live", "answered")  # copies that still exist in Label Studio
IN_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class CopyRecord:
    id: int
    project_id: int
    task_id: int | None
    item_id: int
    annotator_id: int
    purpose: str
    state: str


def live_copy_for_task(conn: Connection, task_id: int | None) -> CopyRecord | None:
    if task_id is None:
        return None
    row = conn.execute(
        select(*_copy_columns()).where(gold_copies.c.task_id == task_id, gold_copies.c.state.in_(LIVE_STATES))
    ).first()
    return CopyRecord(*row) if row else None


def live_copies_for_tasks(conn: Connection, task_ids: Iterable[int]) -> dict[int, CopyRecord]:
    """The live copy of each of these tasks that is one (a task is the copy of one item at most)."""
    ids = sorted(set(task_ids))
    found: dict[int, CopyRecord] = {}
    for start in range(0, len(ids), IN_CHUNK):
        query = select(*_copy_columns()).where(
            gold_copies.c.task_id.in_(ids[start : start + IN_CHUNK]), gold_copies.c.state.in_(LIVE_STATES)
        )
        for row in conn.execute(query):
            found.setdefault(row.task_id, CopyRecord(*row))
    return found


def live_copies(conn: Connection, project_id: int, annotator_id: int | None = None) -> list[CopyRecord]:
    query = select(*_copy_columns()).where(
        gold_copies.c.project_id == project_id, gold_copies.c.state.in_(LIVE_STATES)
    )
    if annotator_id is not None:
        query = query.where(gold_copies.c.annotator_id == annotator_id)
    return [CopyRecord(*row) for row in conn.execute(query)]


def _copy_columns() -> tuple[Any, ...]:
    c = gold_copies.c
    return (c.id, c.project_id, c.task_id, c.item_id, c.annotator_id, c.purpose, c.state)
