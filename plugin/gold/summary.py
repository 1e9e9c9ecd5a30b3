"""Per-annotator QA figures for the API and reports: accuracy with its interval, per class, status."""

from typing import Any

from sqlalchemy import Connection, func, select

from plugin.gold.ledger import annotator_state, regular_work_done
from plugin.gold.review import EVIDENCE_PURPOSES, ReviewSettings, gold_answers_of, last_reset, open_flag
from plugin.quality import decide_status, measure_accuracy
from plugin.store.gold_copies import LIVE_STATES
from plugin.store.people import display_names
from plugin.store.schema import annotations, annotator_states, gold_answers, gold_copies, users
from plugin.store.timestamps import iso_utc

CALLER_STATES = ("onboarding", "requalifying", "flagged")  # set by the process, not by the evidence


def annotator_ids(conn: Connection, project_id: int) -> list[int]:
    """Everyone who did real work in the project or has a QA state there."""
    copies = select(gold_copies.c.task_id).where(
        gold_copies.c.project_id == project_id,
        gold_copies.c.state.in_(LIVE_STATES),
        gold_copies.c.task_id.is_not(None),
    )
    workers = select(annotations.c.annotator_id).where(
        annotations.c.project_id == project_id,
        annotations.c.deleted.is_(False),
        annotations.c.was_cancelled.is_(False),
        annotations.c.annotator_id.is_not(None),
        annotations.c.task_id.not_in(copies),
    )
    with_state = select(annotator_states.c.annotator_id).where(annotator_states.c.project_id == project_id)
    ids = set(conn.execute(workers.distinct()).scalars()) | set(conn.execute(with_state).scalars())
    return sorted(ids)


def annotator_summary(
    conn: Connection, project_id: int, annotator_id: int, review: ReviewSettings
) -> dict[str, Any]:
    policy = review.policy(project_id)
    answers = gold_answers_of(conn, project_id, annotator_id, EVIDENCE_PURPOSES)
    accuracy = measure_accuracy(answers, window=policy.window, confidence_level=policy.confidence_level)
    decision = decide_status(answers, policy=policy, since=last_reset(conn, project_id, annotator_id))
    state = annotator_state(conn, project_id, annotator_id) or {}
    status = state["status"] if state.get("status") in CALLER_STATES else decision.status
    regular_work = regular_work_done(conn, project_id, annotator_id)
    gold_regular = conn.execute(
        select(func.count()).where(
            gold_answers.c.project_id == project_id,
            gold_answers.c.annotator_id == annotator_id,
            gold_answers.c.purpose == "regular",
        )
    ).scalar_one()
    flag = open_flag(conn, project_id, annotator_id)
    figures = accuracy.to_dict()
    return {
        "id": annotator_id,
        "email": conn.execute(select(users.c.email).where(users.c.id == annotator_id)).scalar_one_or_none(),
        "name": display_names(conn, [annotator_id])[annotator_id],
        "status": status,
        "reason": decision.reason,
        "gold_answered": len(answers),
        "accuracy": {k: figures[k] for k in ("accuracy", "lower", "upper", "n", "confidence_level", "trend")},
        "per_class": figures["per_class"],
        "regular_work": regular_work,
        "gold_share": gold_regular / regular_work if regular_work else None,
        "threshold": policy.threshold,
        "onboarding_left": state.get("onboarding_left", 0),
        "quiz_left": state.get("quiz_left", 0),
        "flag": None
        if flag is None
        else {
            "raised_at": iso_utc(flag["raised_at"]),
            "decline_started_at": iso_utc(flag["decline_started_at"]),
            "reason": flag["evidence"].get("reason"),
        },
    }
