"""Batches in the store: forming them from new tasks, drawing their samples, following progress.

Everything here runs inside the worker's event transaction; calls into Label Studio (raising the
sampled tasks' overlap) are enqueued as jobs, a few tasks at a time (``plugin.agreement.openset``).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update

from plugin.agreement.openset import WAITING, rating_filters, refill
from plugin.agreement.sampling import batch_seed, choose_sample
from plugin.gold.ledger import copy_task_ids
from plugin.jobs import enqueue_job
from plugin.records import TaskRecord
from plugin.resend import MARKER_KEY
from plugin.store.dialect import insert
from plugin.store.schema import annotations, gold_copies, gold_items
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

OVERLAP_JOB = "agreement_overlap"  # raised a whole batch's sample at once; jobs left from before
COMPUTE_JOB = "agreement_compute"


@dataclass(frozen=True)
class BatchPolicy:
    mode: str = "import"  # import | every_n
    batch_size: int = 2000
    sample_rate: float = 0.10
    salt: str = ""
    max_open: int = 0  # sampled tasks open (overlap raised) per project at a time; 0: no bound


def gold_copy_ids(conn: Connection, project_id: int, new_tasks: Sequence[TaskRecord]) -> set[int]:
    """Which of the new tasks are hidden gold copies (never part of a batch).

    A copy is known by its task id once the injector has recorded it; a copy whose creation is still
    being recorded is recognized by carrying exactly its gold item's data; and any task the service
    created carries its creation marker in ``meta`` in the TASKS_CREATED body (``plugin.resend``), which
    also covers a copy already answered and deleted by the time its event is processed (seen on a
    5,000-task run: two copies made a batch of their own).
    """
    known = copy_task_ids(conn, project_id)
    being_made = select(gold_items.c.data).join(gold_copies, gold_copies.c.item_id == gold_items.c.id)
    being_made = being_made.where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state == "creating",
        gold_copies.c.task_id.is_(None),
    )
    pending_data = list(conn.execute(being_made).scalars())
    return {
        t.id
        for t in new_tasks
        if t.id in known or (pending_data and t.data in pending_data) or MARKER_KEY in (t.meta or {})
    }


def add_new_tasks(
    conn: Connection, project_id: int, task_ids: Sequence[int], policy: BatchPolicy, source: str = "import"
) -> list[int]:
    """Put new tasks into batches; returns the ids of the batches closed (sampled) now.

    ``source`` "sync" or "backlog": tasks that appeared without a live ``TASKS_CREATED`` form
    batches of their own, ``batch_size`` tasks each, whatever the batch mode.
    """
    already = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.project_id == project_id, agreement_tasks.c.task_id.in_(task_ids)
    )
    seen = set(conn.execute(already).scalars())
    fresh = sorted(set(task_ids) - seen)  # a replayed event forms no second batch
    if not fresh:
        return []
    if source != "import":
        return [_batch_of(conn, project_id, source, fresh[i : i + policy.batch_size], policy)
                for i in range(0, len(fresh), policy.batch_size)]  # fmt: skip
    if policy.mode == "import":
        from plugin.agreement.imports import continued_import, extend_batch

        earlier = continued_import(conn, project_id, fresh)
        if earlier is not None:  # the next body of one big import (Label Studio sends 5,000 a body)
            return [extend_batch(conn, earlier, fresh, policy)]
        return [_batch_of(conn, project_id, "import", fresh, policy)]
    closed = []
    while fresh:
        batch_id, count = _filling_batch(conn, project_id)
        room = max(policy.batch_size - count, 0)  # the setting may have shrunk meanwhile
        taken, fresh = fresh[:room], fresh[room:]
        attach(conn, project_id, batch_id, taken)
        if count + len(taken) >= policy.batch_size:
            closed.append(close_batch(conn, batch_id, policy))
    return closed


def _batch_of(
    conn: Connection, project_id: int, source: str, task_ids: list[int], policy: BatchPolicy
) -> int:
    batch_id = _new_batch(conn, project_id, source)
    attach(conn, project_id, batch_id, task_ids)
    return close_batch(conn, batch_id, policy)


def _new_batch(conn: Connection, project_id: int, source: str) -> int:
    values = {
        "project_id": project_id,
        "source": source,
        "status": "filling",
        "created_at": datetime.now(UTC),
        "task_count": 0,
        "sample_size": 0,
        "sample_done": 0,
        "seed": 0,
    }
    return int(
        conn.execute(
            agreement_batches.insert().values(**values).returning(agreement_batches.c.id)
        ).scalar_one()
    )


def _filling_batch(conn: Connection, project_id: int) -> tuple[int, int]:
    query = select(agreement_batches.c.id).where(
        agreement_batches.c.project_id == project_id, agreement_batches.c.status == "filling"
    )
    batch_id = conn.execute(query.order_by(agreement_batches.c.id).limit(1)).scalar_one_or_none()
    if batch_id is None:
        return _new_batch(conn, project_id, "every_n"), 0
    return int(batch_id), _size(conn, batch_id)


def _size(conn: Connection, batch_id: int) -> int:
    query = select(func.count()).where(agreement_tasks.c.batch_id == batch_id)
    return int(conn.execute(query).scalar_one())


def attach(conn: Connection, project_id: int, batch_id: int, task_ids: Iterable[int]) -> None:
    rows = [
        {"project_id": project_id, "task_id": t, "batch_id": batch_id, "sampled": False, "overlap": None}
        for t in task_ids
    ]
    if rows:
        stmt = insert(conn, agreement_tasks).on_conflict_do_nothing(index_elements=["project_id", "task_id"])
        conn.execute(stmt, rows)


def close_batch(conn: Connection, batch_id: int, policy: BatchPolicy) -> int:
    """Draw the batch's sample; its tasks wait their turn to be raised (``openset.refill``)."""
    project_id = conn.execute(
        select(agreement_batches.c.project_id).where(agreement_batches.c.id == batch_id)
    ).scalar_one()
    members = list(
        conn.execute(
            select(agreement_tasks.c.task_id).where(agreement_tasks.c.batch_id == batch_id)
        ).scalars()
    )
    seed = batch_seed(policy.salt, project_id, members)
    sample = choose_sample(members, policy.sample_rate, seed=seed)
    mark_sampled(conn, batch_id, sample)
    conn.execute(
        update(agreement_batches)
        .where(agreement_batches.c.id == batch_id)
        .values(
            status="sampling" if sample else "complete",
            task_count=len(members),
            sample_size=len(sample),
            seed=seed,
        )
    )
    if sample:
        refill(conn, project_id, policy.max_open)
    return batch_id


def mark_sampled(conn: Connection, batch_id: int, sample: list[int]) -> None:
    """The sample's tasks wait their turn to be raised."""
    for start in range(0, len(sample), 500):
        conn.execute(
            update(agreement_tasks)
            .where(
                agreement_tasks.c.batch_id == batch_id,
                agreement_tasks.c.task_id.in_(sample[start : start + 500]),
            )
            .values(sampled=True, overlap=WAITING)
        )


def sample_ratings(batch_id: int, service_user_id: int | None, *columns: Any) -> Select[Any]:
    """``columns`` of the finished annotations on the batch's sampled tasks that count as ratings:
    not deleted, cancelled or skipped, by a person (not our service account), and not a reviewer's
    written-back correction."""
    sampled = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.batch_id == batch_id, agreement_tasks.c.sampled.is_(True)
    )
    query = select(*columns).where(annotations.c.task_id.in_(sampled), *rating_filters())
    if service_user_id is not None:
        query = query.where(annotations.c.annotator_id != service_user_id)
    return query


def double_rated(batch_id: int, service_user_id: int | None) -> Select[tuple[int]]:
    """The batch's sampled tasks with finished annotations by two different people (not us)."""
    return (
        sample_ratings(batch_id, service_user_id, annotations.c.task_id)
        .group_by(annotations.c.task_id)
        .having(func.count(func.distinct(annotations.c.annotator_id)) >= 2)
    )


def refresh_progress(conn: Connection, task_ids: Iterable[int]) -> list[int]:
    """Recount the sample progress of the batches these tasks are sampled in; returns the batches
    whose sample just became complete (their figures are enqueued for computing)."""
    ids = sorted(set(task_ids))
    if not ids:
        return []
    query = (
        select(agreement_batches.c.id, agreement_batches.c.project_id, agreement_batches.c.service_user_id)
        .join(agreement_tasks, agreement_tasks.c.batch_id == agreement_batches.c.id)
        .where(agreement_tasks.c.task_id.in_(ids), agreement_tasks.c.sampled.is_(True))
        .where(agreement_batches.c.status == "sampling")
        .distinct()
    )
    completed = []
    for batch_id, project_id, service_user_id in conn.execute(query).all():
        if _recount(conn, batch_id, service_user_id):
            _enqueue_compute(conn, batch_id, project_id)
            completed.append(batch_id)
    return completed


def recount_batch(conn: Connection, batch_id: int) -> bool:
    """Recount one sampling batch (e.g. after a sync brought annotations no event announced);
    True if its sample is complete now."""
    batch = conn.execute(select(agreement_batches).where(agreement_batches.c.id == batch_id)).mappings().one()
    if batch["status"] != "sampling":
        return batch["status"] == "complete"
    if _recount(conn, batch_id, batch["service_user_id"]):
        _enqueue_compute(conn, batch_id, batch["project_id"])
        return True
    return False


def _recount(conn: Connection, batch_id: int, service_user_id: int | None) -> bool:
    """Store the batch's ``sample_done``; True if this completed the sample."""
    done = conn.execute(select(func.count()).select_from(double_rated(batch_id, service_user_id).subquery()))
    done_count = int(done.scalar_one())
    size = conn.execute(
        select(agreement_batches.c.sample_size).where(agreement_batches.c.id == batch_id)
    ).scalar_one()
    complete = done_count >= size
    values = {"sample_done": done_count, **({"status": "complete"} if complete else {})}
    conn.execute(update(agreement_batches).where(agreement_batches.c.id == batch_id).values(**values))
    return complete


def _enqueue_compute(conn: Connection, batch_id: int, project_id: int) -> None:
    key = f"agreement:compute:{batch_id}"
    enqueue_job(conn, COMPUTE_JOB, key, {"batch_id": batch_id}, project_id=project_id)


def forget_tasks(conn: Connection, task_ids: Sequence[int]) -> None:
    """Deleted tasks leave their batches (Label Studio may reuse their ids); counts follow, and a
    sample whose missing tasks were deleted may be complete now."""
    if not task_ids:
        return
    member = agreement_tasks.c.task_id.in_(task_ids)
    batch_ids = set(conn.execute(select(agreement_tasks.c.batch_id).where(member)).scalars())
    conn.execute(delete(agreement_tasks).where(member))
    for batch_id in sorted(batch_ids):
        batch = (
            conn.execute(select(agreement_batches).where(agreement_batches.c.id == batch_id)).mappings().one()
        )
        if batch["status"] == "filling":
            continue
        counts = select(func.count(), func.count().filter(agreement_tasks.c.sampled.is_(True)))
        n_tasks, n_sampled = conn.execute(counts.where(agreement_tasks.c.batch_id == batch_id)).one()
        conn.execute(
            update(agreement_batches)
            .where(agreement_batches.c.id == batch_id)
            .values(task_count=n_tasks, sample_size=n_sampled)
        )
        if batch["status"] == "sampling" and _recount(conn, batch_id, batch["service_user_id"]):
            _enqueue_compute(conn, batch_id, batch["project_id"])


def task_ids_of_annotations(conn: Connection, annotation_ids: Sequence[int]) -> list[int]:
    if not annotation_ids:
        return []
    query = select(annotations.c.task_id).where(annotations.c.id.in_(annotation_ids))
    return [t for t in conn.execute(query).scalars() if t is not None]
