"""After each gold answer: is the annotator still fine, flagged, or through their quiz?

Pure decisions come from plugin.quality; this module reads the evidence from the store, records
flags and their evidence, moves the annotator between states and enqueues the alerts.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from plugin.alerts import Alert, annotator_flagged_alert, quiz_alert
from plugin.audit import trail_facts
from plugin.gold.ledger import annotator_state, update_annotator_state
from plugin.jobs import enqueue_job
from plugin.quality import GoldAnswer, RequalificationPolicy, decide_status, judge_quiz
from plugin.relabel.guards import not_written_back
from plugin.store.schema import alerts, annotations, flags, gold_answers, gold_copies, users
from plugin.store.timestamps import as_utc

# Gold answers that count as evidence about an annotator's everyday work (quiz answers are judged apart).
EVIDENCE_PURPOSES = ("onboarding", "regular", "stray")


@dataclass(frozen=True)
class ReviewSettings:
    default_preset: str = "default"
    threshold: float | None = None
    project_presets: tuple[tuple[int, str], ...] = ()
    min_answers: int = 10
    window: int = 50
    quiz_items: int = 10
    quiz_pass_mark: float | None = None
    quiz_retries: int = 2

    def policy(self, project_id: int) -> RequalificationPolicy:
        preset = dict(self.project_presets).get(project_id, self.default_preset)
        overrides: dict[str, Any] = {
            "min_answers": min(self.min_answers, self.window),
            "window": self.window,
            "quiz_items": self.quiz_items,
            "quiz_pass_mark": self.quiz_pass_mark,
        }
        if self.threshold is not None and project_id not in dict(self.project_presets):
            overrides["threshold"] = self.threshold
        return RequalificationPolicy.from_preset(preset, **overrides)


def gold_answers_of(
    conn: Connection,
    project_id: int,
    annotator_id: int,
    purposes: tuple[str, ...],
    since: datetime | None = None,
    after_id: int | None = None,
) -> list[GoldAnswer]:
    query = (
        select(
            gold_answers.c.item_id,
            gold_answers.c.answered_at,
            gold_answers.c.score,
            gold_answers.c.passed,
            gold_answers.c.outcomes,
        )
        .where(
            gold_answers.c.project_id == project_id,
            gold_answers.c.annotator_id == annotator_id,
            gold_answers.c.purpose.in_(purposes),
        )
        .order_by(gold_answers.c.answered_at, gold_answers.c.id)
    )
    if since is not None:
        query = query.where(gold_answers.c.answered_at >= since)
    if after_id is not None:  # ids follow arrival order whatever clock the answers carry
        query = query.where(gold_answers.c.id > after_id)
    return [
        GoldAnswer(str(item), _aware(at), float(score), bool(passed), classes_identified(outcomes))
        for item, at, score, passed, outcomes in conn.execute(query)
    ]


def classes_identified(outcomes: list[dict[str, Any]]) -> dict[str, bool]:
    """Per gold class: True when every gold instance of it was given that class."""
    classes: dict[str, bool] = {}
    for outcome in outcomes or []:
        gold = outcome.get("gold")
        if gold is not None:
            classes[gold] = classes.get(gold, True) and outcome.get("pred") == gold
    return classes


def open_flag(conn: Connection, project_id: int, annotator_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(flags)
            .where(
                flags.c.project_id == project_id,
                flags.c.annotator_id == annotator_id,
                flags.c.status == "open",
            )
            .order_by(flags.c.id.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def last_reset(conn: Connection, project_id: int, annotator_id: int) -> datetime | None:
    """When the annotator last passed a requalification quiz: older evidence no longer counts."""
    query = select(flags.c.cleared_at).where(
        flags.c.project_id == project_id, flags.c.annotator_id == annotator_id, flags.c.status == "cleared"
    )
    times = [t for t in conn.execute(query).scalars() if t is not None]
    return _aware(max(times)) if times else None


def review_annotator(
    conn: Connection, project_id: int, annotator_id: int, purpose: str, settings: ReviewSettings
) -> str:
    """Re-decide after a new gold answer; returns the annotator's status afterwards."""
    state = annotator_state(conn, project_id, annotator_id) or {}
    policy = settings.policy(project_id)
    if purpose == "quiz":
        return _review_quiz(conn, project_id, annotator_id, policy, settings)
    if state.get("status") in ("requalifying", "flagged"):
        return str(state["status"])
    answers = gold_answers_of(conn, project_id, annotator_id, EVIDENCE_PURPOSES)
    decision = decide_status(answers, policy=policy, since=last_reset(conn, project_id, annotator_id))
    if decision.status != "flagged":
        status = "onboarding" if state.get("onboarding_left") else decision.status
        update_annotator_state(conn, project_id, annotator_id, status=status)
        return status
    evidence = {**decision.to_dict(), "quiz_after_answer": _last_answer_id(conn, project_id, annotator_id)}
    conn.execute(
        flags.insert().values(
            project_id=project_id,
            annotator_id=annotator_id,
            status="open",
            raised_at=decision.flagged_at or datetime.now(UTC),
            decline_started_at=decision.decline_started_at,
            evidence=evidence,
        )
    )
    update_annotator_state(conn, project_id, annotator_id, status="requalifying", quiz_left=policy.quiz_items)
    trail_facts.flag_raised(conn, project_id, annotator_id, decision)
    raise_alert(conn, annotator_flagged_alert(project_id, annotator_name(conn, annotator_id), decision))
    return "requalifying"


def _review_quiz(
    conn: Connection,
    project_id: int,
    annotator_id: int,
    policy: RequalificationPolicy,
    settings: ReviewSettings,
) -> str:
    flag = open_flag(conn, project_id, annotator_id)
    if flag is None:
        return "ok"
    attempt = int(flag["evidence"].get("quiz_attempt", 1))
    after = int(flag["evidence"].get("quiz_after_answer", 0))
    answers = gold_answers_of(conn, project_id, annotator_id, ("quiz",), after_id=after)
    result = judge_quiz([a.passed for a in answers], pass_mark=policy.pass_mark, n_items=policy.quiz_items)
    if result.status == "in_progress":
        return "requalifying"
    now = answers[-1].answered_at  # the answer that settled the quiz, on the answers' own clock
    raise_alert(conn, quiz_alert(project_id, annotator_name(conn, annotator_id), result, attempt=attempt))
    trail_facts.quiz_judged(
        conn, project_id, annotator_id, flag["id"], result, attempt=attempt, retries=settings.quiz_retries
    )
    if result.status == "passed":
        conn.execute(update(flags).where(flags.c.id == flag["id"]).values(status="cleared", cleared_at=now))
        update_annotator_state(conn, project_id, annotator_id, status="ok", quiz_left=0)
        return "ok"
    if attempt <= settings.quiz_retries:  # failed: another quiz; the alert above is already critical
        evidence = {
            **flag["evidence"],
            "quiz_attempt": attempt + 1,
            "quiz_after_answer": _last_answer_id(conn, project_id, annotator_id),
        }
        conn.execute(update(flags).where(flags.c.id == flag["id"]).values(evidence=evidence))
        update_annotator_state(
            conn, project_id, annotator_id, status="requalifying", quiz_left=policy.quiz_items
        )
        return "requalifying"
    update_annotator_state(conn, project_id, annotator_id, status="flagged", quiz_left=0)
    payload = {"project_id": project_id, "annotator_id": annotator_id, "reason": "failed requalification"}
    enqueue_job(
        conn,
        "pause_annotator",
        f"pause:{project_id}:{annotator_id}:{flag['id']}",
        payload,
        project_id=project_id,
    )
    return "flagged"


def raise_alert(conn: Connection, alert: Alert) -> int:
    """Record the alert and enqueue its delivery (network calls never run inside a transaction)."""
    alert_id = conn.execute(
        alerts.insert()
        .values(
            project_id=alert.project_id,
            kind=alert.kind,
            severity=alert.severity,
            title=alert.title,
            details={"text": alert.text, **_jsonable(alert.details)},
            created_at=datetime.now(UTC),
        )
        .returning(alerts.c.id)
    ).scalar_one()
    enqueue_job(conn, "send_alert", f"alert:{alert_id}", {"alert_id": alert_id}, project_id=alert.project_id)
    trail_facts.alert_raised(conn, int(alert_id), alert)
    return int(alert_id)


def _last_answer_id(conn: Connection, project_id: int, annotator_id: int) -> int:
    query = select(func.max(gold_answers.c.id)).where(
        gold_answers.c.project_id == project_id, gold_answers.c.annotator_id == annotator_id
    )
    return int(conn.execute(query).scalar_one() or 0)


def annotator_name(conn: Connection, annotator_id: int) -> str:
    email = conn.execute(select(users.c.email).where(users.c.id == annotator_id)).scalar_one_or_none()
    return email or f"user {annotator_id}"


def _jsonable(details: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(details).items()}


def _aware(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def suspect_annotation_ids(conn: Connection, project_id: int, annotator_id: int) -> list[int]:
    """Real work by a flagged annotator since their decline began: the relabel step's candidates.

    Every flag (open or cleared) marks the annotator's submissions from its ``decline_started_at``
    until it was cleared (or until now) as suspect.
    """
    spans = conn.execute(
        select(flags.c.decline_started_at, flags.c.cleared_at).where(
            flags.c.project_id == project_id, flags.c.annotator_id == annotator_id
        )
    ).all()
    copies = select(gold_copies.c.task_id).where(gold_copies.c.project_id == project_id)
    suspect: set[int] = set()
    for start, end in spans:
        if start is None:
            continue
        query = select(annotations.c.id).where(
            annotations.c.project_id == project_id,
            annotations.c.annotator_id == annotator_id,
            annotations.c.deleted.is_(False),
            annotations.c.was_cancelled.is_(False),
            annotations.c.task_id.not_in(copies.where(gold_copies.c.task_id.is_not(None))),
            annotations.c.created_at >= _aware(start),
            not_written_back(),  # corrections they wrote back as reviewers are not their work
        )
        if end is not None:
            query = query.where(annotations.c.created_at <= _aware(end))
        suspect.update(conn.execute(query).scalars())
    return sorted(suspect)
