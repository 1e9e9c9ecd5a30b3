"""The Data Manager tabs the relabel loop keeps in Label Studio (``relabel_views``): one per open flag
(subject ``flag:<id>``) or weak agreement batch (``batch:<id>``), with the task ids each shows.

Written by :mod:`plugin.relabel.views`; read by the dashboard API to link a flag or batch to its tab.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from plugin.store.schema_relabel import relabel_views


def stored_views(conn: Connection, project_id: int) -> dict[str, dict[str, Any]]:
    """``{subject: row}`` of every tab recorded for the project."""
    query = select(relabel_views).where(relabel_views.c.project_id == project_id)
    return {row["subject"]: dict(row) for row in conn.execute(query).mappings()}


def tab_view_ids(conn: Connection, project_id: int) -> dict[str, int]:
    """``{subject: Label Studio view id}`` of the project's tabs that exist in Label Studio; one query."""
    query = select(relabel_views.c.subject, relabel_views.c.view_id).where(
        relabel_views.c.project_id == project_id, relabel_views.c.view_id.is_not(None)
    )
    return {subject: int(view_id) for subject, view_id in conn.execute(query)}


def save_view(
    conn: Connection, project_id: int, subject: str, view_id: int, title: str, task_ids: Iterable[int]
) -> None:
    now, ids = datetime.now(UTC), sorted(task_ids)
    key = (relabel_views.c.project_id == project_id) & (relabel_views.c.subject == subject)
    if conn.execute(select(relabel_views.c.id).where(key)).first() is None:
        conn.execute(
            relabel_views.insert().values(
                project_id=project_id,
                subject=subject,
                view_id=view_id,
                title=title,
                task_ids=ids,
                updated_at=now,
            )
        )
    else:
        conn.execute(
            update(relabel_views)
            .where(key)
            .values(view_id=view_id, title=title, task_ids=ids, updated_at=now)
        )


def forget_view(conn: Connection, project_id: int, subject: str) -> None:
    conn.execute(
        delete(relabel_views).where(
            relabel_views.c.project_id == project_id, relabel_views.c.subject == subject
        )
    )
