"""Writing domain records. Every write is conditional on ``seq`` (see ``schema``): idempotent."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, select, update

from plugin.records import Changes, ProjectRecord
from plugin.store.dialect import insert
from plugin.store.schema import annotations, projects, tasks

CHUNK = 500


def event_seq(event_id: int) -> int:
    return 2 * event_id


def sync_seq(watermark: int) -> int:
    return 2 * watermark + 1


def apply_changes(conn: Connection, changes: Changes, seq: int, at: datetime | None = None) -> None:
    for project in changes.projects:
        upsert_project(conn, project, seq, event_at=at)
    _upsert(conn, tasks, [{**asdict(t), "deleted": False} for t in changes.tasks], seq)
    _upsert(conn, annotations, [{**asdict(a), "deleted": False} for a in changes.annotations], seq)
    delete_tasks(conn, changes.deleted_task_ids, seq)
    delete_annotations(conn, changes.deleted_annotation_ids, seq)


def upsert_project(
    conn: Connection,
    project: ProjectRecord,
    seq: int,
    *,
    event_at: datetime | None = None,
    synced_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"id": project.id, "seq": seq}
    # Trimmed or partial project objects must not erase what we know.
    if project.title is not None:
        values["title"] = project.title
    if project.label_config is not None:
        values["label_config"] = project.label_config
    if project.settings:
        values["settings"] = project.settings
    stmt = insert(conn, projects).values(**values)
    newer = projects.c.seq <= stmt.excluded.seq
    updates = {k: stmt.excluded[k] for k in values if k != "id"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updates, where=newer))
    stamps = {k: v for k, v in (("last_event_at", event_at), ("last_synced_at", synced_at)) if v}
    if stamps:
        conn.execute(update(projects).where(projects.c.id == project.id).values(**stamps))


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], seq: int) -> None:
    if not rows:
        return
    for row in rows:
        row["seq"] = seq
    for start in range(0, len(rows), CHUNK):
        stmt = insert(conn, table)
        columns = [c for c in rows[0] if c != "id"]
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c: stmt.excluded[c] for c in columns},
            where=table.c.seq <= stmt.excluded.seq,
        )
        conn.execute(stmt, rows[start : start + CHUNK])


def delete_tasks(conn: Connection, task_ids: list[int], seq: int) -> None:
    """Tombstone tasks and the annotations Label Studio deletes with them."""
    if not task_ids:
        return
    _tombstone(conn, tasks, task_ids, seq)
    for start in range(0, len(task_ids), CHUNK):
        chunk = task_ids[start : start + CHUNK]
        conn.execute(
            update(annotations)
            .where(and_(annotations.c.task_id.in_(chunk), annotations.c.seq <= seq))
            .values(deleted=True, seq=seq)
        )


def delete_annotations(conn: Connection, annotation_ids: list[int], seq: int) -> None:
    _tombstone(conn, annotations, annotation_ids, seq)


def _tombstone(conn: Connection, table: Table, ids: list[int], seq: int) -> None:
    if not ids:
        return
    rows = [{"id": i, "deleted": True, "seq": seq} for i in ids]
    for start in range(0, len(rows), CHUNK):
        stmt = insert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={"deleted": True, "seq": stmt.excluded.seq},
            where=table.c.seq <= stmt.excluded.seq,
        )
        conn.execute(stmt, rows[start : start + CHUNK])


def live_ids(conn: Connection, table: Table, project_id: int) -> set[int]:
    query = select(table.c.id).where(table.c.project_id == project_id, table.c.deleted.is_(False))
    return set(conn.execute(query).scalars())
