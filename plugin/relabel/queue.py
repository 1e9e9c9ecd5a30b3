"""Store verbs of relabeling: queue candidates once, follow them through push and correction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from plugin.audit.trail import record
from plugin.relabel.candidates import Candidate
from plugin.store.dialect import insert
from plugin.store.schema import gold_items
from plugin.store.schema_relabel import relabel_items, relabel_projects
from plugin.store.timestamps import iso_utc

QUEUED, PUSHED, CORRECTED = "queued", "pushed", "corrected"


def dedupe_key(project_id: int, candidate: Candidate) -> str:
    """One item per source annotation (or task, when no annotation is questioned) and reason kind."""
    subject = f"a{candidate.annotation_id}" if candidate.annotation_id is not None else "t"
    return f"{project_id}:{candidate.source_task_id}:{subject}:{candidate.reason_kind}"


def queue_candidates(
    conn: Connection, project_id: int, candidates: Iterable[Candidate], *, now: datetime | None = None
) -> list[int]:
    """Queue candidates not queued before (any status); returns the new items' ids."""
    now = now or datetime.now(UTC)
    gold_tasks = _gold_items_by_task(conn, project_id)
    new_ids: list[int] = []
    for c in candidates:
        gold_item_id = c.gold_item_id or gold_tasks.get(c.source_task_id)
        stmt = (
            insert(conn, relabel_items)
            .values(
                project_id=project_id,
                dedupe_key=dedupe_key(project_id, c),
                source_task_id=c.source_task_id,
                annotation_id=c.annotation_id,
                annotator_id=c.annotator_id,
                gold_item_id=gold_item_id,
                reason_kind=c.reason_kind,
                reason=c.reason,
                prefill=c.prefill,
                status=QUEUED,
                queued_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(relabel_items.c.id)
        )
        item_id = conn.execute(stmt).scalar_one_or_none()
        if item_id is None:
            continue
        new_ids.append(int(item_id))
        record(
            conn,
            "relabel.queued",
            project_id=project_id,
            actor="service",
            subject=f"task:{c.source_task_id}",
            facts={
                "item": int(item_id),
                "reason_kind": c.reason_kind,
                "reason": c.reason,
                "annotation": c.annotation_id,
                "annotator": c.annotator_id,
            },
        )
    return new_ids


def _gold_items_by_task(conn: Connection, project_id: int) -> dict[int, int]:
    query = select(gold_items.c.source_task_id, gold_items.c.id).where(
        gold_items.c.project_id == project_id,
        gold_items.c.source_project_id == project_id,
        gold_items.c.source_task_id.is_not(None),
        gold_items.c.retired_at.is_(None),
    )
    return {int(t): int(i) for t, i in conn.execute(query)}


def items_of(conn: Connection, project_id: int, status: str | None = None) -> list[dict[str, Any]]:
    query = select(relabel_items).where(relabel_items.c.project_id == project_id).order_by(relabel_items.c.id)
    if status is not None:
        query = query.where(relabel_items.c.status == status)
    return [dict(row) for row in conn.execute(query).mappings()]


def item_for_relabel_task(conn: Connection, relabel_project_id: int, task_id: int) -> dict[str, Any] | None:
    query = select(relabel_items).where(
        relabel_items.c.relabel_project_id == relabel_project_id, relabel_items.c.relabel_task_id == task_id
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def update_item(conn: Connection, item_id: int, **values: Any) -> None:
    conn.execute(update(relabel_items).where(relabel_items.c.id == item_id).values(**values))


def written_back_annotation_ids(conn: Connection, project_id: int) -> set[int]:
    """Annotations the service added to source tasks for reviewers: corrections, not independent work
    (agreement and gold leave them out through ``plugin.relabel.guards``, which also recognizes a
    write-back whose id is not recorded yet)."""
    query = select(relabel_items.c.written_annotation_id).where(
        relabel_items.c.project_id == project_id, relabel_items.c.written_annotation_id.is_not(None)
    )
    return {int(i) for i in conn.execute(query).scalars()}


def relabel_project_of(conn: Connection, source_project_id: int) -> dict[str, Any] | None:
    query = select(relabel_projects).where(relabel_projects.c.source_project_id == source_project_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def item_as_json(item: dict[str, Any]) -> dict[str, Any]:
    """An item as ``GET /api/v1/projects/<id>/relabel`` and ``lsqa relabel list --json`` show it."""
    return {
        "id": item["id"],
        "source_task_id": item["source_task_id"],
        "annotation_id": item["annotation_id"],
        "annotator_id": item["annotator_id"],
        "reason": item["reason"],
        "status": item["status"],
        "relabel_task_id": item["relabel_task_id"],
        "queued_at": iso_utc(item["queued_at"]),
        "corrected_at": iso_utc(item["corrected_at"]),
        "corrected_by": item["corrected_by"],
        "gold_verified": item["gold_verified"],
    }
