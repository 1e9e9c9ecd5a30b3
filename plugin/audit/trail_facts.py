"""The QA facts other modules append to the audit trail, one function per fact, so that the gold
engine, the review and the worker each need one call. Ids, flags and figures only: never an
annotation's result, a gold answer, or a credential."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from plugin.audit.trail import record
from plugin.store.schema import flags

if TYPE_CHECKING:
    from plugin.alerts import Alert, DeliveryRecord
    from plugin.quality import Decision, QuizResult
    from plugin.records import AnnotationRecord
    from plugin.store.gold_copies import CopyRecord

SERVICE = "service"


def annotator(annotator_id: int | None) -> str | None:
    """The actor name of an annotator (``annotator:12``)."""
    return None if annotator_id is None else f"annotator:{annotator_id}"


def gold_scored(
    conn: Connection,
    copy: CopyRecord,
    annotation: AnnotationRecord,
    verdict: Mapping[str, Any],
    purpose: str,
) -> None:
    """A gold answer was scored: who, which copy and item, the score and whether it passed."""
    record(
        conn,
        "gold.scored",
        project_id=copy.project_id,
        actor=annotator(annotation.annotator_id),
        subject=f"task:{copy.task_id}",
        facts={
            "annotation_id": annotation.id,
            "copy_id": copy.id,
            "item_id": copy.item_id,
            "purpose": purpose,
            "score": verdict["score"],
            "passed": verdict["passed"],
        },
    )


def flag_raised(conn: Connection, project_id: int, annotator_id: int, decision: Decision) -> None:
    """An annotator was flagged for requalification, with the evidence of the decision."""
    flag_id = conn.execute(
        select(func.max(flags.c.id)).where(
            flags.c.project_id == project_id, flags.c.annotator_id == annotator_id, flags.c.status == "open"
        )
    ).scalar_one()
    record(
        conn,
        "flag.raised",
        project_id=project_id,
        actor=SERVICE,
        subject=annotator(annotator_id),
        facts={"flag_id": flag_id, **decision.to_dict()},
    )


def quiz_judged(
    conn: Connection,
    project_id: int,
    annotator_id: int,
    flag_id: int,
    result: QuizResult,
    *,
    attempt: int,
    retries: int,
) -> None:
    """A requalification quiz was decided; a passed quiz also clears the flag."""
    passed = result.status == "passed"
    outcome = "cleared" if passed else ("retry" if attempt <= retries else "flagged")
    facts = {
        "flag_id": flag_id,
        "status": result.status,
        "attempt": attempt,
        "correct": result.correct,
        "answered": result.answered,
        "n_items": result.n_items,
        "accuracy": result.accuracy,
        "pass_mark": result.pass_mark,
        "outcome": outcome,
    }
    subject = annotator(annotator_id)
    record(conn, "quiz.result", project_id=project_id, actor=subject, subject=subject, facts=facts)
    if passed:
        facts = {"flag_id": flag_id, "reason": f"passed requalification quiz #{attempt}"}
        record(conn, "flag.cleared", project_id=project_id, actor=SERVICE, subject=subject, facts=facts)


def alert_raised(conn: Connection, alert_id: int, alert: Alert) -> None:
    """An alert was recorded and its delivery enqueued (title and text stay in the alerts table)."""
    facts = {"alert_id": alert_id, "kind": alert.kind, "severity": alert.severity}
    record(
        conn,
        "alert.raised",
        project_id=alert.project_id,
        actor=SERVICE,
        subject=f"alert:{alert_id}",
        facts=facts,
    )


def alert_sent(conn: Connection, alert_id: int, delivery: DeliveryRecord) -> None:
    """An alert went out: to which channels, and which of them failed (no error texts, no URLs)."""
    channels = [
        {"channel": d.channel, "target": d.target, "delivered": d.delivered} for d in delivery.deliveries
    ]
    record(
        conn,
        "alert.sent",
        project_id=delivery.alert.project_id,
        actor=SERVICE,
        subject=f"alert:{alert_id}",
        facts={"alert_id": alert_id, "kind": delivery.alert.kind, "deliveries": channels},
    )
