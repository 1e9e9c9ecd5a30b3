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


def apply_changes(conn: Connection, changes: Changes, seq: int) -> None:
    apply_batch(conn, [(seq, changes)])


def apply_batch(conn: Connection, batch: list[tuple[int, Changes]]) -> None:
    """Apply many events' changes with one statement per table: each row keeps its own ``seq``."""
    latest_projects: dict[int, tuple[int, ProjectRecord]] = {}
    task_rows: list[dict[str, Any]] = []
    annotation_rows: list[dict[str, Any]] = []
    for seq, changes in batch:
        for project in changes.projects:
            if project.id not in latest_projects or latest_projects[project.id][0] <= seq:
                latest_projects[project.id] = (seq, project)
        task_rows += [{**asdict(t), "deleted": False, "seq": seq} for t in changes.tasks]
        annotation_rows += [{**asdict(a), "deleted": False, "seq": seq} for a in changes.annotations]
    for seq, project in latest_projects.values():
        upsert_project(conn, project, seq)
    _upsert(conn, tasks, task_rows)
    _upsert(conn, annotations, annotation_rows)
    for seq, changes in batch:
        delete_tasks(conn, changes.deleted_task_ids, seq)
        delete_annotations(conn, changes.deleted_annotation_ids, seq)


def upsert_project(
    conn: Connection, project: ProjectRecord, seq: int, *, synced_at: datetime | None = None
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
    if synced_at:
        conn.execute(update(projects).where(projects.c.id == project.id).values(last_synced_at=synced_at))


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or update rows whose ``seq`` is not older than the stored one.

    PostgreSQL refuses to touch one row twice in a statement, so only the newest version of each id
    goes in (which is also the only one that could win).
    """
    newest: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["id"] not in newest or newest[row["id"]]["seq"] <= row["seq"]:
            newest[row["id"]] = row
    unique = list(newest.values())
    if not unique:
        return
    stmt = insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in unique[0] if c != "id"},
        where=table.c.seq <= stmt.excluded.seq,
    )
    for start in range(0, len(unique), CHUNK):
        conn.execute(stmt, unique[start : start + CHUNK])


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
