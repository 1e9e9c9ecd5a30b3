"""Where relabel candidates come from: one function per kind of evidence, in one registry.

Each source reads the store only and returns :class:`Candidate` s; queueing (``plugin.relabel.queue``)
makes a candidate unique per source annotation (or task) and reason kind. Kinds:

* ``flagged``: real work of an annotator flagged for requalification, since their decline began
  (``plugin.gold.review.suspect_annotation_ids``);
* ``systematic``: an annotator's real work touching a class they get wrong on gold again and again
  (per annotator x per class gold accuracy) or the class they mistake it for;
* ``boundary``: gold answers with the right class but a box IoU / span character F1 in the boundary
  band, whose gold item is a live task of the project (that task is relabeled and re-verified);
* ``disagreement``: sampled tasks of batch agreement whose two ratings disagree
  (``plugin.agreement.compute.sample_disagreements``); the questioned annotation is the earlier of
  the two, i.e. the task's original labelling (the other rating was asked for by the sample);
* ``confident_learning`` comes from a model's predictions in Label Studio, so it is found by a job
  (``plugin.relabel.engine``), not here.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from plugin.agreement.compute import annotator_name, sample_disagreements
from plugin.gold.ledger import label_config_of
from plugin.gold.library import classes_of
from plugin.gold.review import EVIDENCE_PURPOSES, classes_identified, suspect_annotation_ids
from plugin.labelconfig import LabelConfig, LabelConfigError, parse_label_config
from plugin.relabel.guards import not_written_back
from plugin.relabel.rules import systematic_error
from plugin.scoring import ScoringSettings, score_task
from plugin.store.schema import annotations, flags, gold_answers, gold_copies, gold_items, tasks
from plugin.store.schema_relabel import relabel_items


@dataclass(frozen=True)
class RelabelSettings:
    boundary_iou: float = 0.85
    boundary_f1: float = 0.90
    systematic_min_answers: int = 5
    systematic_accuracy: float = 0.6
    systematic_max_items: int = 50


@dataclass(frozen=True)
class Candidate:
    """A record to send for review: the questioned annotation (if any) and why."""

    source_task_id: int
    annotation_id: int | None
    annotator_id: int | None
    reason_kind: str
    reason: str
    prefill: list[dict[str, Any]]
    gold_item_id: int | None = None


CandidateSource = Callable[[Connection, int, RelabelSettings], list[Candidate]]


def flagged_candidates(conn: Connection, project_id: int, settings: RelabelSettings) -> list[Candidate]:
    query = select(flags.c.annotator_id, flags.c.decline_started_at).where(flags.c.project_id == project_id)
    since: dict[int, Any] = {}
    for annotator_id, start in conn.execute(query):
        if start is not None and (annotator_id not in since or start < since[annotator_id]):
            since[annotator_id] = start
    found = []
    for annotator_id, start in sorted(since.items()):
        reason = f"annotator {annotator_id} flagged for requalification; decline began {start:%Y-%m-%d %H:%M}"
        ids = suspect_annotation_ids(conn, project_id, annotator_id)
        found += [_from_row(row, "flagged", reason) for row in _annotation_rows(conn, ids)]
    return found


def systematic_candidates(conn: Connection, project_id: int, settings: RelabelSettings) -> list[Candidate]:
    """Real work touching a class the annotator gets wrong on gold with confidence, newest first and at
    most ``systematic_max_items`` queued per annotator over time (a pattern on gold questions their
    recent work on the class, not everything they ever did)."""
    config = _config(conn, project_id)
    found = []
    for annotator_id, patterns in sorted(systematic_patterns(conn, project_id, settings).items()):
        suspects = {label for label, _, _, _ in patterns} | {c for *_, confused in patterns for c in confused}
        reason = "; ".join(
            f"annotator {annotator_id} got '{label}' right in {right}/{n} gold answers"
            + (f" (given as {', '.join(repr(c) for c in confused)})" if confused else "")
            for label, n, right, confused in patterns
        )
        room = settings.systematic_max_items - _queued_systematic(conn, project_id, annotator_id)
        for row in reversed(_real_work(conn, project_id, annotator_id)):
            if room <= 0:
                break
            if suspects & set(classes_of(row["result"] or [], config)):
                found.append(_from_row(row, "systematic", "systematic gold error: " + reason))
                room -= 1
    return found


def _queued_systematic(conn: Connection, project_id: int, annotator_id: int) -> int:
    query = select(func.count()).where(
        relabel_items.c.project_id == project_id,
        relabel_items.c.annotator_id == annotator_id,
        relabel_items.c.reason_kind == "systematic",
    )
    return int(conn.execute(query).scalar_one())


def systematic_patterns(
    conn: Connection, project_id: int, settings: RelabelSettings
) -> dict[int, list[tuple[str, int, int, list[str]]]]:
    """Per annotator: (class, gold answers with it, right, classes given instead) where the class's
    accuracy is below ``systematic_accuracy`` with confidence (``plugin.relabel.rules``)."""
    query = select(gold_answers.c.annotator_id, gold_answers.c.outcomes).where(
        gold_answers.c.project_id == project_id, gold_answers.c.purpose.in_(EVIDENCE_PURPOSES)
    )
    tally: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    confused: dict[tuple[int, str], set[str]] = defaultdict(set)
    for annotator_id, outcomes in conn.execute(query):
        for label, right in classes_identified(outcomes).items():
            tally[(annotator_id, label)][0] += 1
            tally[(annotator_id, label)][1] += int(right)
        for outcome in outcomes or []:
            gold, pred = outcome.get("gold"), outcome.get("pred")
            if gold is not None and pred is not None and pred != gold:
                confused[(annotator_id, gold)].add(pred)
    patterns: dict[int, list[tuple[str, int, int, list[str]]]] = defaultdict(list)
    for (annotator_id, label), (n, hits) in sorted(tally.items()):
        if systematic_error(
            hits, n, accuracy=settings.systematic_accuracy, min_answers=settings.systematic_min_answers
        ):
            patterns[annotator_id].append((label, n, hits, sorted(confused[(annotator_id, label)])))
    return dict(patterns)


def boundary_candidates(conn: Connection, project_id: int, settings: RelabelSettings) -> list[Candidate]:
    config = _config(conn, project_id)
    if config is None:
        return []
    scoring = ScoringSettings(boundary_iou=settings.boundary_iou, span_boundary_f1=settings.boundary_f1)
    live = select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.deleted.is_(False))
    query = (
        select(gold_answers, gold_items.c.source_task_id, gold_items.c.expert_result)
        .join(gold_items, gold_items.c.id == gold_answers.c.item_id)
        .where(
            gold_answers.c.project_id == project_id,
            gold_items.c.source_project_id == project_id,
            gold_items.c.source_task_id.in_(live),
        )
        .order_by(gold_answers.c.id)
    )
    found = []
    for row in conn.execute(query).mappings():
        verdict = score_task(row["result"], row["expert_result"], config, scoring)
        near = [d for d in verdict.discrepancies if d.kind == "boundary" and d.overlap is not None]
        if not near:
            continue
        reason = "boundary: " + "; ".join(
            f"'{d.gold}' overlap {d.overlap:.2f} with gold (band below "
            f"{settings.boundary_iou if d.tag in _region_tags(config) else settings.boundary_f1:.2f})"
            for d in near
        )
        found.append(
            Candidate(
                row["source_task_id"],
                row["annotation_id"],
                row["annotator_id"],
                "boundary",
                reason,
                list(row["result"]),
                row["item_id"],
            )
        )
    return found


def disagreement_candidates(conn: Connection, project_id: int, settings: RelabelSettings) -> list[Candidate]:
    """Sampled tasks of batch agreement whose two ratings disagree, one candidate per task.

    The source annotation is the earlier of the two (lower annotation id): the task's original
    labelling, the one the reviewer's correction stands beside; the reason names the batch, both
    annotators and what each gave.
    """
    found = []
    for d in sample_disagreements(conn, project_id):
        pair = d.pair
        results = {pair.first_annotator: pair.first_result, pair.second_annotator: pair.second_result}
        annotator = min(d.annotation_ids, key=d.annotation_ids.__getitem__)
        shown = ", ".join(f"{a!r} vs {b!r}" for a, b in d.differences[:3])
        more = f" and {len(d.differences) - 3} more" if len(d.differences) > 3 else ""
        reason = (
            f"batch {d.batch_id}: {annotator_name(conn, pair.first_annotator)} and "
            f"{annotator_name(conn, pair.second_annotator)} disagree ({shown}{more})"
        )
        found.append(
            Candidate(
                pair.task_id,
                d.annotation_ids[annotator],
                annotator,
                "disagreement",
                reason,
                [dict(r) for r in results[annotator]],
            )
        )
    return found


CANDIDATE_SOURCES: dict[str, CandidateSource] = {
    "flagged": flagged_candidates,
    "systematic": systematic_candidates,
    "boundary": boundary_candidates,
    "disagreement": disagreement_candidates,
}


def register_candidate_source(kind: str, source: CandidateSource) -> None:
    """Add (or replace) the source of one kind of candidate."""
    CANDIDATE_SOURCES[kind] = source


def collect_candidates(conn: Connection, project_id: int, settings: RelabelSettings) -> list[Candidate]:
    return [c for source in CANDIDATE_SOURCES.values() for c in source(conn, project_id, settings)]


def _from_row(row: Any, kind: str, reason: str) -> Candidate:
    return Candidate(row["task_id"], row["id"], row["annotator_id"], kind, reason, list(row["result"] or []))


def _annotation_rows(conn: Connection, ids: Iterable[int]) -> list[Any]:
    ids = list(ids)
    if not ids:
        return []
    query = select(annotations).where(annotations.c.id.in_(ids)).order_by(annotations.c.id)
    return list(conn.execute(query).mappings())


def _real_work(conn: Connection, project_id: int, annotator_id: int) -> list[Any]:
    copies = select(gold_copies.c.task_id).where(
        gold_copies.c.project_id == project_id, gold_copies.c.task_id.is_not(None)
    )
    query = (
        select(annotations)
        .where(
            annotations.c.project_id == project_id,
            annotations.c.annotator_id == annotator_id,
            annotations.c.deleted.is_(False),
            annotations.c.was_cancelled.is_(False),
            annotations.c.task_id.not_in(copies),
            not_written_back(),  # a correction already reviewed is not questioned again
        )
        .order_by(annotations.c.id)
    )
    return list(conn.execute(query).mappings())


def _config(conn: Connection, project_id: int) -> LabelConfig | None:
    xml = label_config_of(conn, project_id)
    try:
        return parse_label_config(xml) if xml else None
    except LabelConfigError:
        return None


def _region_tags(config: LabelConfig) -> set[str]:
    return {name for name, c in config.controls.items() if c.object_tag != "text"}
