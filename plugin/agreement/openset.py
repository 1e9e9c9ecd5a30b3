"""The open set: how many sampled tasks have their overlap raised in Label Studio at any time.

With ``show_overlap_first`` Label Studio serves every task with overlap > 1 first, ordered by id
(notes §3). A hidden gold copy is the newest task, so it waits until its target has labelled every
open sampled task they can take. Raising a whole 18,000-task sample at once makes gold wait for
tens of thousands of annotations, so a sample is raised a few tasks at a time:

- a sampled task is ``waiting`` (overlap 1 in Label Studio), ``pending`` (its raise is enqueued),
  ``set`` (overlap 2, open) or ``done`` (two different people rated it; open no more);
- at most ``agreement.max_open_samples`` tasks of a project are open (pending or set); the oldest
  batches' waiting tasks are raised first, as open ones get done;
- while a gold copy of the project waits for its target (``creating`` or ``live``), nothing is
  raised, so the copy is behind at most the tasks open when it was made: gold first, sample next.
  A copy holds for ``GOLD_HOLD`` at most (a target who stopped working must not stop the sample).

``max_open`` 0 means no bound and no hold (every sampled task raised at once, the behaviour before).
"""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select, update

from plugin.jobs import enqueue_job
from plugin.relabel.guards import not_written_back
from plugin.store.schema import annotations, gold_copies
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

RAISE_JOB = "agreement_raise"
WAITING, PENDING, SET, DONE = "waiting", "pending", "set", "done"
OPEN_STATES = (PENDING, SET)
GOLD_WAITING_STATES = ("creating", "live")  # a copy its target has not answered yet
GOLD_HOLD = timedelta(minutes=15)  # longest a waiting copy holds the refill


def refresh_open_set(conn: Connection, project_id: int, max_open: int) -> int:
    """Close the open tasks two people have rated, then raise waiting ones into the room left;
    returns how many were raised (their raise is enqueued as a job)."""
    if not has_sample_in_flight(conn, project_id):
        return 0
    close_done(conn, project_id)
    return refill(conn, project_id, max_open)


def concerns_open_set(conn: Connection, task_ids: list[int]) -> bool:
    """Whether ratings on these tasks can change the open set: they are open or done sampled
    tasks, or gold copies (an answered copy ends a hold). Most ratings are neither: one query."""
    if not task_ids:
        return False
    sampled = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.task_id.in_(task_ids), agreement_tasks.c.overlap.in_((*OPEN_STATES, DONE))
    )
    copies = select(gold_copies.c.task_id).where(gold_copies.c.task_id.in_(task_ids))
    return conn.execute(sampled.union_all(copies).limit(1)).first() is not None


def has_sample_in_flight(conn: Connection, project_id: int) -> bool:
    query = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.project_id == project_id,
        agreement_tasks.c.overlap.in_((WAITING, *OPEN_STATES)),
    )
    return conn.execute(query.limit(1)).first() is not None


def projects_with_sample_in_flight(conn: Connection) -> list[int]:
    query = select(agreement_tasks.c.project_id).where(agreement_tasks.c.overlap.in_((WAITING, *OPEN_STATES)))
    return sorted(set(conn.execute(query.distinct()).scalars()))


def refill(conn: Connection, project_id: int, max_open: int) -> int:
    if max_open <= 0:  # no bound: the whole sample at once, gold or not (the behaviour before)
        room = None
    elif gold_waits(conn, project_id):
        return 0
    else:
        room = max_open - count_open(conn, project_id)
    if room is not None and room <= 0:
        return 0
    query = (
        select(agreement_tasks.c.task_id)
        .where(agreement_tasks.c.project_id == project_id, agreement_tasks.c.overlap == WAITING)
        .order_by(agreement_tasks.c.batch_id, agreement_tasks.c.task_id)
    )
    chosen = list(conn.execute(query if room is None else query.limit(room)).scalars())
    if not chosen:
        return 0
    _set_state(conn, project_id, chosen, PENDING)
    # One job per refill: its key only has to be new; replays find the room already taken.
    key = f"agreement:raise:{project_id}:{uuid.uuid4().hex}"
    enqueue_job(conn, RAISE_JOB, key, {"project_id": project_id}, project_id=project_id)
    return len(chosen)


def gold_waits(conn: Connection, project_id: int, now: datetime | None = None) -> bool:
    """A copy made less than ``GOLD_HOLD`` ago waits for its target. An older one does not hold the
    sample any more: its target has stopped working (it reaches them after the open tasks)."""
    since = (now or datetime.now(UTC)) - GOLD_HOLD
    query = select(gold_copies.c.id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state.in_(GOLD_WAITING_STATES),
        gold_copies.c.created_at >= since,
    )
    return conn.execute(query.limit(1)).first() is not None


def count_open(conn: Connection, project_id: int) -> int:
    query = select(func.count()).where(
        agreement_tasks.c.project_id == project_id, agreement_tasks.c.overlap.in_(OPEN_STATES)
    )
    return int(conn.execute(query).scalar_one())


def close_done(conn: Connection, project_id: int) -> None:
    """Open tasks rated by two different people are done: their place goes to a waiting task."""
    open_ids = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.project_id == project_id, agreement_tasks.c.overlap == SET
    )
    done = list(conn.execute(rated_twice(open_ids, _service_user(conn, project_id))).scalars())
    _set_state(conn, project_id, done, DONE)


def reopen_undone(conn: Connection, project_id: int, task_ids: Iterable[int]) -> None:
    """A done task that lost a rating (annotation deleted) is open again: Label Studio serves it."""
    ids = sorted(set(task_ids))
    if not ids:
        return
    still = set(conn.execute(rated_twice(ids, _service_user(conn, project_id))).scalars())
    candidates = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.project_id == project_id,
        agreement_tasks.c.task_id.in_(ids),
        agreement_tasks.c.overlap == DONE,
    )
    _set_state(conn, project_id, [t for t in conn.execute(candidates).scalars() if t not in still], SET)


def rating_filters() -> tuple[ColumnElement[bool], ...]:
    """Annotations that count as ratings: not deleted, cancelled or skipped, by a person, and not a
    reviewer's written-back correction (that is no second rating)."""
    return (
        annotations.c.deleted.is_(False),
        annotations.c.was_cancelled.is_(False),
        annotations.c.annotator_id.is_not(None),
        not_written_back(),
    )


def rated_twice(task_ids: Select[Any] | list[int], service_user_id: int | None) -> Select[Any]:
    """Of these tasks, those with finished ratings by two different people (not us)."""
    query = select(annotations.c.task_id).where(annotations.c.task_id.in_(task_ids), *rating_filters())
    if service_user_id is not None:
        query = query.where(annotations.c.annotator_id != service_user_id)
    return query.group_by(annotations.c.task_id).having(
        func.count(func.distinct(annotations.c.annotator_id)) >= 2
    )


def _service_user(conn: Connection, project_id: int) -> int | None:
    query = select(agreement_batches.c.service_user_id).where(
        agreement_batches.c.project_id == project_id, agreement_batches.c.service_user_id.is_not(None)
    )
    return conn.execute(query.limit(1)).scalar_one_or_none()


def _set_state(conn: Connection, project_id: int, task_ids: list[int], state: str) -> None:
    for start in range(0, len(task_ids), 500):
        conn.execute(
            update(agreement_tasks)
            .where(
                agreement_tasks.c.project_id == project_id,
                agreement_tasks.c.task_id.in_(task_ids[start : start + 500]),
            )
            .values(overlap=state)
        )
