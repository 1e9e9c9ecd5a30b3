"""The gold engine's reactions to events, run by the worker inside the event's transaction.

Regular work moves an annotator along their gold schedule; an annotation on one of our copies is
a gold answer (scored and stored) or one of our helper skips (ignored). Calls into Label Studio are
never made here: they are enqueued as jobs (plugin.jobs) and run by the injector afterwards.
"""

from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, select

from plugin.audit import trail_facts
from plugin.batch_facts import BatchFacts
from plugin.gold.ledger import (
    ensure_annotator_state,
    gold_item,
    label_config_of,
    record_answer,
    regular_work_done,
    update_annotator_state,
    update_copy,
)
from plugin.gold.review import ReviewSettings, review_annotator
from plugin.gold.schedule import GoldPlan, is_gold_due
from plugin.jobs import count_jobs, enqueue_job, pending_jobs
from plugin.labelconfig import parse_label_config
from plugin.records import AnnotationRecord, Changes
from plugin.scoring import ScoringSettings, score_task
from plugin.store.gold import record_ground_truth
from plugin.store.gold_copies import CopyRecord
from plugin.store.schema import gold_copies, gold_items

CREATED_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED")
ANNOTATION_ACTIONS = (*CREATED_ACTIONS, "ANNOTATION_UPDATED")


@dataclass(frozen=True)
class GoldContext:
    plan: GoldPlan = field(default_factory=GoldPlan)
    salt: str = ""
    service_user_id: int | None = None  # our own account: what it does is never anyone's work
    scoring: ScoringSettings | None = None
    review: ReviewSettings = field(default_factory=ReviewSettings)


def react_to_event(
    conn: Connection,
    action: str,
    changes: Changes,
    ctx: GoldContext,
    event_id: int = 0,
    facts: BatchFacts | None = None,
) -> None:
    """``facts``: the worker's batch cache (none: a cache of this event alone)."""
    facts = facts or BatchFacts()
    if action == "PROJECT_UPDATED":
        for project in changes.projects:
            if _needs_repair(project.settings) and facts.gold_active(conn, project.id):
                key = f"repair:{project.id}:{event_id}"
                enqueue_job(conn, "repair_project", key, {"project_id": project.id}, project_id=project.id)
        return
    if action in ANNOTATION_ACTIONS:
        _follow_ground_truth(conn, changes, facts)
    if action not in CREATED_ACTIONS:
        return
    for annotation in changes.annotations:
        if annotation.project_id is None or annotation.annotator_id in (None, ctx.service_user_id):
            continue
        copy = facts.live_copy(conn, annotation.task_id)
        if copy is not None:
            _on_copy_annotation(conn, copy, annotation, ctx)
            facts.forget_task(copy.task_id)  # answered now
        elif annotation.was_cancelled or facts.is_write_back(
            conn, annotation.task_id, annotation.annotator_id, annotation.id
        ):
            continue  # a skip, or a reviewer's correction written back: not regular work
        elif facts.gold_active(conn, annotation.project_id):
            schedule_next_gold(conn, annotation.project_id, annotation.annotator_id, ctx)  # type: ignore[arg-type]


def _follow_ground_truth(conn: Connection, changes: Changes, facts: BatchFacts) -> None:
    """Ground truth set (or unset) on a real task of a connected project keeps the library current."""
    tasks = {t.id: t for t in changes.tasks}
    for annotation in changes.annotations:
        project_id = annotation.project_id
        if project_id is None or not facts.connected_source(conn, project_id):
            continue
        if not facts.may_touch_gold(conn, annotation.task_id, annotation.ground_truth):
            continue  # most annotations: no query
        if facts.live_copy(conn, annotation.task_id) is None:
            task = tasks.get(annotation.task_id or -1)
            if record_ground_truth(conn, project_id, task, annotation) not in ("ignored", "unchanged"):
                facts.forget_project(project_id)  # an item added or retired: gold may (not) be active now
                facts.forget_task(annotation.task_id)


def _needs_repair(settings: dict[str, Any]) -> bool:
    """An admin turned off what serving copies relies on, or changed overlap (which rewrites theirs)."""
    return settings.get("show_overlap_first") is False or "maximum_annotations" in settings


def schedule_next_gold(conn: Connection, project_id: int, annotator_id: int, ctx: GoldContext) -> str | None:
    """Enqueue the annotator's next copy if one is due; returns its purpose, or None."""
    state = ensure_annotator_state(conn, project_id, annotator_id, ctx.plan.onboarding_items)
    prefix = f"copy:{project_id}:{annotator_id}:"
    if pending_jobs(conn, "create_copy", prefix) or _unanswered_copies(conn, project_id, annotator_id):
        return None  # one copy at a time: the next is decided once this one is answered
    k = count_jobs(conn, "create_copy", prefix + "regular:")
    done = regular_work_done(conn, project_id, annotator_id)
    regular_due = is_gold_due(
        done, k, ctx.plan, salt=ctx.salt, project_id=project_id, annotator_id=annotator_id
    )
    if state["onboarding_left"] > 0:
        purpose = "onboarding"
    elif regular_due:  # Community cannot pause anyone: real work, and its gold, go on during a quiz
        purpose = "regular"
    elif state["quiz_left"] > 0:
        purpose = "quiz"
    else:
        return None
    if not _has_unseen_item(conn, project_id, annotator_id):
        return None  # the library is exhausted for this annotator: nothing to seed (the injector warned)
    index = count_jobs(conn, "create_copy", f"{prefix}{purpose}:")
    payload = {"project_id": project_id, "annotator_id": annotator_id, "purpose": purpose}
    enqueue_job(conn, "create_copy", f"{prefix}{purpose}:{index}", payload, project_id=project_id)
    return purpose


def _has_unseen_item(conn: Connection, project_id: int, annotator_id: int) -> bool:
    seen = select(gold_copies.c.item_id).where(
        gold_copies.c.project_id == project_id, gold_copies.c.annotator_id == annotator_id
    )
    query = select(gold_items.c.id).where(
        gold_items.c.project_id == project_id, gold_items.c.retired_at.is_(None), gold_items.c.id.not_in(seen)
    )
    return conn.execute(query.limit(1)).first() is not None


def _unanswered_copies(conn: Connection, project_id: int, annotator_id: int) -> bool:
    query = select(gold_copies.c.id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.annotator_id == annotator_id,
        gold_copies.c.state.in_(("creating", "live")),
    )
    return conn.execute(query.limit(1)).first() is not None


def _on_copy_annotation(
    conn: Connection, copy: CopyRecord, annotation: AnnotationRecord, ctx: GoldContext
) -> None:
    is_target = annotation.annotator_id == copy.annotator_id
    if annotation.was_cancelled:
        if is_target:  # they skipped it: no answer, and the copy goes
            update_copy(conn, copy.id, state="answered")
            enqueue_job(
                conn, "delete_copy", f"delete:{copy.id}", {"copy_id": copy.id}, project_id=copy.project_id
            )
        return  # otherwise one of our helper skips
    verdict = score_gold_answer(conn, copy, annotation, ctx)
    purpose = (
        copy.purpose if is_target else "stray"
    )  # a copy that reached someone else still tells us something
    if not record_answer(conn, copy, annotation, verdict, purpose):
        return
    trail_facts.gold_scored(conn, copy, annotation, verdict, purpose)
    if not is_target:
        review_annotator(conn, copy.project_id, annotation.annotator_id, purpose, ctx.review)  # type: ignore[arg-type]
        return
    update_copy(conn, copy.id, state="answered", answered_at=annotation.created_at)
    enqueue_job(conn, "delete_copy", f"delete:{copy.id}", {"copy_id": copy.id}, project_id=copy.project_id)
    _count_down(conn, copy, ctx)
    review_annotator(conn, copy.project_id, copy.annotator_id, copy.purpose, ctx.review)
    schedule_next_gold(conn, copy.project_id, copy.annotator_id, ctx)


def _count_down(conn: Connection, copy: CopyRecord, ctx: GoldContext) -> None:
    state = ensure_annotator_state(conn, copy.project_id, copy.annotator_id, ctx.plan.onboarding_items)
    if copy.purpose == "onboarding" and state["onboarding_left"] > 0:
        left = state["onboarding_left"] - 1
        update_annotator_state(
            conn,
            copy.project_id,
            copy.annotator_id,
            onboarding_left=left,
            status="onboarding" if left else "ok",
        )
    elif copy.purpose == "quiz" and state["quiz_left"] > 0:
        update_annotator_state(conn, copy.project_id, copy.annotator_id, quiz_left=state["quiz_left"] - 1)


def score_gold_answer(
    conn: Connection, copy: CopyRecord, annotation: AnnotationRecord, ctx: GoldContext
) -> dict[str, Any]:
    item = gold_item(conn, copy.item_id)
    if item is None:
        raise LookupError(f"gold item {copy.item_id} of copy {copy.id} is missing")
    config = _parsed_config(label_config_of(conn, copy.project_id) or "<View/>")
    verdict = score_task(annotation.result, item["expert_result"], config, ctx.scoring)
    outcomes = [asdict(o) for o in verdict.outcomes]
    return {"score": float(verdict.score), "passed": bool(verdict.passed), "outcomes": outcomes}


@cache
def _parsed_config(xml: str) -> Any:
    return parse_label_config(xml)
