"""Compute a batch's figures from the store, keep them, and alert on weak categories.

Read and compute in a read transaction, then write the figures, the alerts and the audit facts
in one short write transaction (SQLite has a single write lock, which the receiver needs).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, select, update

from plugin.agreement.batches import sample_ratings
from plugin.agreement.figures import PairedLabels, agreement_figures
from plugin.agreement.items import TaskPair, mean_pairwise_f1, pair_of, paired_labels
from plugin.alerts import Alert
from plugin.audit.trail import record
from plugin.gold.ledger import label_config_of
from plugin.gold.review import raise_alert
from plugin.jobs import finish_job
from plugin.labelconfig import LabelConfig, parse_label_config
from plugin.relabel.rules import kappa_alert_due
from plugin.store import Store
from plugin.store.schema import annotations, users
from plugin.store.schema_agreement import agreement_batches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComputeSettings:
    kappa_threshold: float = 0.75
    n_resamples: int = 1000
    min_items: int = 30


def sample_pairs(conn: Connection, batch: dict[str, Any]) -> list[TaskPair]:
    """The two ratings of each sampled task that has them (cancelled ones, skips, our own service
    account's annotations and reviewers' written-back corrections left out)."""
    return [pair for pair, _ in _pairs_with_ids(conn, batch)]


def _pairs_with_ids(conn: Connection, batch: dict[str, Any]) -> list[tuple[TaskPair, dict[int, int]]]:
    """Each pair with the ids of the annotations compared (annotator -> their latest annotation)."""
    columns = (annotations.c.task_id, annotations.c.annotator_id, annotations.c.result, annotations.c.id)
    query = sample_ratings(batch["id"], batch["service_user_id"], *columns).order_by(
        annotations.c.task_id, annotations.c.id
    )
    by_task: dict[int, list[tuple[int, Any]]] = {}
    ids: dict[int, dict[int, int]] = {}
    for task_id, annotator_id, result, annotation_id in conn.execute(query):
        by_task.setdefault(task_id, []).append((annotator_id, result or []))
        ids.setdefault(task_id, {})[annotator_id] = annotation_id  # the latest, as pair_of takes it
    found = []
    for task_id, rated in sorted(by_task.items()):
        pair = pair_of(task_id, rated)
        if pair is not None:
            found.append((pair, {a: ids[task_id][a] for a in (pair.first_annotator, pair.second_annotator)}))
    return found


@dataclass(frozen=True)
class Disagreement:
    """A sampled task whose two ratings differ: ``differences`` are the items (first annotator's
    label, second's; ``(none)`` for an unmatched region or a choice only one of them made)."""

    batch_id: int
    pair: TaskPair
    annotation_ids: dict[int, int]  # annotator -> the annotation compared
    differences: list[tuple[str, str]]


def sample_disagreements(conn: Connection, project_id: int) -> list[Disagreement]:
    """The sample pairs of the project's batches that disagree on a categorical tag, as the figures
    compare them (classification: different choices; regions: unmatched, or matched with another
    label), by batch and task."""
    config = _config(label_config_of(conn, project_id) or "<View/>")
    query = select(agreement_batches).where(
        agreement_batches.c.project_id == project_id, agreement_batches.c.status != "filling"
    )
    found = []
    for batch in conn.execute(query.order_by(agreement_batches.c.id)).mappings().all():
        for pair, ids in _pairs_with_ids(conn, dict(batch)):
            labels = paired_labels([pair], config)
            differences = [(a, b) for a, b in zip(labels.first, labels.second, strict=True) if a != b]
            if differences:
                found.append(Disagreement(int(batch["id"]), pair, ids, differences))
    return found


@cache
def _config(xml: str) -> LabelConfig:
    return parse_label_config(xml)


def batch_figures(conn: Connection, batch: dict[str, Any], settings: ComputeSettings) -> dict[str, Any]:
    """The batch's figures as stored (see :func:`plugin.agreement.figures.agreement_figures`)."""
    config = _config(label_config_of(conn, batch["project_id"]) or "<View/>")
    pairs = sample_pairs(conn, batch)
    labels = paired_labels(pairs, config)
    if len(labels):
        figures = agreement_figures(
            labels,
            threshold=settings.kappa_threshold,
            n_resamples=settings.n_resamples,
            seed=int(batch["seed"]),
        )
    else:
        figures = empty_figures(labels)
    return {**figures, "pairwise_f1": mean_pairwise_f1(pairs, config), "tasks_compared": len(pairs)}


def empty_figures(labels: PairedLabels) -> dict[str, Any]:
    keys = ("kappa", "kappa_ci", "alpha", "alpha_ci", "raw_agreement", "raw_agreement_ci")
    return {
        "method": labels.method if len(labels) else None,
        "n_items": 0,
        "n_tasks": 0,
        "annotators": [],
        **dict.fromkeys(keys),
        "per_category": [],
        "confusions": [],
    }


def compute_batch(
    store: Store, batch_id: int, settings: ComputeSettings, *, job_id: int | None = None
) -> dict[str, Any]:
    """Compute, store and alert (and finish the job that asked for it, in the same transaction);
    returns the figures. Raises LookupError for an unknown batch."""
    with store.read() as conn:
        figures = batch_figures(conn, _batch(conn, batch_id), settings)
    with store.begin() as conn:
        save_figures(conn, _batch(conn, batch_id), figures, settings)
        if job_id is not None:
            finish_job(conn, job_id)
    return figures


def _batch(conn: Connection, batch_id: int) -> dict[str, Any]:
    row = conn.execute(select(agreement_batches).where(agreement_batches.c.id == batch_id)).mappings().first()
    if row is None:
        raise LookupError(f"no agreement batch {batch_id}")
    return dict(row)


def save_figures(
    conn: Connection, batch: dict[str, Any], figures: dict[str, Any], settings: ComputeSettings
) -> list[int]:
    """Store the figures, record them in the audit trail, and raise one guideline-review alert per
    category below the threshold on evidence (``plugin.relabel.rules.kappa_alert_due``) that was not
    alerted for this batch before; returns alert ids."""
    now = datetime.now(UTC)
    alerted = list(batch["alerted"] or [])
    weak = [
        c
        for c in figures["per_category"]
        if kappa_alert_due(c, settings.kappa_threshold, settings.min_items) and c["label"] not in alerted
    ]
    alert_ids = []
    for category in weak:
        alert = guideline_alert(conn, batch, category, settings.kappa_threshold)
        alert_id = raise_alert(conn, alert)
        alert_ids.append(alert_id)
        alerted.append(category["label"])
        record(
            conn,
            "alert.raised",
            project_id=batch["project_id"],
            actor="service",
            subject=f"batch:{batch['id']}",
            facts={"alert_id": alert_id, "kind": alert.kind, "category": category["label"]},
        )
    conn.execute(
        update(agreement_batches)
        .where(agreement_batches.c.id == batch["id"])
        .values(figures=figures, computed_at=now, alerted=alerted)
    )
    record(
        conn,
        "agreement.computed",
        project_id=batch["project_id"],
        actor="service",
        subject=f"batch:{batch['id']}",
        facts=audit_facts(batch, figures),
    )
    log.info(
        "batch %d of project %d: kappa %s over %d items, %d weak categories",
        batch["id"],
        batch["project_id"],
        figures["kappa"],
        figures["n_items"],
        len(weak),
    )
    return alert_ids


def audit_facts(batch: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("method", "n_items", "tasks_compared", "kappa", "kappa_ci", "alpha", "alpha_ci")
    return {
        "batch_id": batch["id"],
        "status": batch["status"],
        **{k: figures[k] for k in (*keys, "raw_agreement", "pairwise_f1")},
        "per_category": {c["label"]: c["kappa"] for c in figures["per_category"]},
    }


def guideline_alert(
    conn: Connection, batch: dict[str, Any], category: dict[str, Any], threshold: float
) -> Alert:
    """Guideline review for one weak category: its kappa, what it is confused with, and who."""
    label, kappa = category["label"], category["kappa"]
    ci = category["ci"]
    confusions = ", ".join(f"{c['a']} / {c['b']} ({c['count']}x)" for c in category["confusions"]) or "none"
    people = ", ".join(
        f"{annotator_name(conn, a['annotator_id'])} ({a['disagreements']} disagreements, "
        f"gave {label!r} in {a['gave_label']})"
        for a in category["annotators"]
    )
    return Alert(
        kind="agreement_low",
        severity="warning",
        project_id=batch["project_id"],
        title=f"Batch {batch['id']}: low agreement on {label!r} (kappa {kappa:.2f} < {threshold:.2f})",
        text=(
            f"Two annotators agree poorly on {label!r} in the double-annotated sample of batch "
            f"{batch['id']}. Review the guideline for this category and requalify the annotators "
            "involved (a targeted fix, not a full relabel)."
        ),
        details={
            "batch": batch["id"],
            "category": label,
            "kappa": round(kappa, 3),
            "interval": f"[{ci[0]:.3f}, {ci[1]:.3f}] at 95%" if ci else "n/a",
            "items with this category": category["n"],
            "most frequent confusions": confusions,
            "annotators most involved": people or "none",
        },
    )


def annotator_name(conn: Connection, annotator_id: int) -> str:
    """The annotator's e-mail if known, else their user id."""
    email = conn.execute(select(users.c.email).where(users.c.id == annotator_id)).scalar_one_or_none()
    return email or f"user {annotator_id}"
