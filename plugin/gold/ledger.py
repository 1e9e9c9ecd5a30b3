"""What the store knows about gold copies, answers and annotators: the queries the gold engine needs."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from plugin.gold.choose import GoldCandidate
from plugin.relabel.guards import not_written_back
from plugin.store.dialect import insert
from plugin.store.gold_copies import LIVE_STATES, CopyRecord
from plugin.store.schema import annotations, annotator_states, gold_answers, gold_copies, gold_items, projects


def copy_task_ids(conn: Connection, project_id: int) -> set[int]:
    """Tasks of the project that are our copies (they are not real work)."""
    query = select(gold_copies.c.task_id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state.in_(LIVE_STATES),
        gold_copies.c.task_id.is_not(None),
    )
    return set(conn.execute(query).scalars())


def regular_work_done(conn: Connection, project_id: int, annotator_id: int) -> int:
    """Submitted (not skipped) annotations on real tasks: derived, so replays cannot inflate it."""
    copies = select(gold_copies.c.task_id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state.in_(LIVE_STATES),
        gold_copies.c.task_id.is_not(None),
    )
    query = select(func.count()).where(
        annotations.c.project_id == project_id,
        annotations.c.annotator_id == annotator_id,
        annotations.c.deleted.is_(False),
        annotations.c.was_cancelled.is_(False),
        annotations.c.task_id.not_in(copies),
        not_written_back(),  # reviewers' corrections of relabeled records are not their work
    )
    return conn.execute(query).scalar_one()


def labelled_task_ids(conn: Connection, project_id: int, annotator_id: int) -> set[int]:
    query = select(annotations.c.task_id).where(
        annotations.c.project_id == project_id, annotations.c.annotator_id == annotator_id
    )
    return {t for t in conn.execute(query).scalars() if t is not None}


def items_seen(conn: Connection, project_id: int, annotator_id: int) -> set[int]:
    query = select(gold_copies.c.item_id).where(
        gold_copies.c.project_id == project_id, gold_copies.c.annotator_id == annotator_id
    )
    return set(conn.execute(query).scalars())


def gold_item(conn: Connection, item_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(gold_items).where(gold_items.c.id == item_id)).mappings().first()
    return dict(row) if row else None


def active_items(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    served = select(gold_copies.c.item_id, func.count().label("n")).group_by(gold_copies.c.item_id).subquery()
    query = (
        select(
            gold_items.c.id,
            gold_items.c.classes,
            gold_items.c.source_project_id,
            gold_items.c.source_task_id,
            func.coalesce(served.c.n, 0),
        )
        .select_from(gold_items.outerjoin(served, served.c.item_id == gold_items.c.id))
        .where(gold_items.c.project_id == project_id, gold_items.c.retired_at.is_(None))
    )
    return [
        {"id": i, "classes": tuple(c or ()), "source_project_id": sp, "source_task_id": st, "times_served": n}
        for i, c, sp, st, n in conn.execute(query)
    ]


def gold_candidates(conn: Connection, project_id: int) -> list[GoldCandidate]:
    """The project's active items as the chooser sees them (a source task counts only if it is ours)."""
    return [
        GoldCandidate(i["id"], i["classes"], _same_project_task(i, project_id), i["times_served"])
        for i in active_items(conn, project_id)
    ]


def _same_project_task(item: dict[str, Any], project_id: int) -> int | None:
    """The item's source task, if it is a task of this project (only then can it have been labelled)."""
    source_project = item["source_project_id"]
    return item["source_task_id"] if source_project in (None, project_id) else None


def known_annotator_ids(conn: Connection) -> set[int]:
    """Everyone the gold engine has seen work, in any project (their first event made their state)."""
    return set(conn.execute(select(annotator_states.c.annotator_id).distinct()).scalars())


def label_config_of(conn: Connection, project_id: int) -> str | None:
    return conn.execute(
        select(projects.c.label_config).where(projects.c.id == project_id)
    ).scalar_one_or_none()


def record_copy(conn: Connection, *, project_id: int, item_id: int, annotator_id: int, purpose: str) -> int:
    now = datetime.now(UTC)
    return conn.execute(
        gold_copies.insert()
        .values(
            project_id=project_id,
            item_id=item_id,
            annotator_id=annotator_id,
            purpose=purpose,
            state="creating",
            helper_annotation_ids=[],
            created_at=now,
        )
        .returning(gold_copies.c.id)
    ).scalar_one()


def update_copy(conn: Connection, copy_id: int, **values: Any) -> None:
    conn.execute(update(gold_copies).where(gold_copies.c.id == copy_id).values(**values))


def copy_by_id(conn: Connection, copy_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(gold_copies).where(gold_copies.c.id == copy_id)).mappings().first()
    return dict(row) if row else None


def record_answer(
    conn: Connection, copy: CopyRecord, annotation: Any, verdict: dict[str, Any], purpose: str
) -> bool:
    """Store one gold answer; False if this annotator's answer to this copy was already stored."""
    stmt = (
        insert(conn, gold_answers)
        .values(
            project_id=copy.project_id,
            item_id=copy.item_id,
            annotator_id=annotation.annotator_id,
            copy_id=copy.id,
            annotation_id=annotation.id,
            purpose=purpose,
            result=annotation.result,
            score=verdict["score"],
            passed=verdict["passed"],
            outcomes=verdict["outcomes"],
            answered_at=annotation.created_at or datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["copy_id", "annotator_id"])
        .returning(gold_answers.c.id)
    )
    return conn.execute(stmt).first() is not None


def annotator_state(conn: Connection, project_id: int, annotator_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(annotator_states).where(
                and_(
                    annotator_states.c.project_id == project_id,
                    annotator_states.c.annotator_id == annotator_id,
                )
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def ensure_annotator_state(
    conn: Connection, project_id: int, annotator_id: int, onboarding: int
) -> dict[str, Any]:
    """The annotator's state row, created (in onboarding) the first time we see them."""
    stmt = (
        insert(conn, annotator_states)
        .values(
            project_id=project_id,
            annotator_id=annotator_id,
            status="onboarding" if onboarding else "ok",
            onboarding_left=onboarding,
            quiz_left=0,
            updated_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["project_id", "annotator_id"])
    )
    conn.execute(stmt)
    state = annotator_state(conn, project_id, annotator_id)
    assert state is not None
    return state


def update_annotator_state(conn: Connection, project_id: int, annotator_id: int, **values: Any) -> None:
    conn.execute(
        update(annotator_states)
        .where(annotator_states.c.project_id == project_id, annotator_states.c.annotator_id == annotator_id)
        .values(updated_at=datetime.now(UTC), **values)
    )
