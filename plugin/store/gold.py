"""Store verbs of the gold library: add, list, retire items, and follow ground truth in Label Studio.

An item is identified by ``(project_id, source_project_id, source_task_id)``: the project it
tests annotators in, and the Label Studio task its expert answer came from. The unique constraint
cannot guard that key when a source id is NULL (NULLs are distinct), so items are looked up before
they are written instead of relying on ``ON CONFLICT``.

Retiring is final: a retired item is never served again, and neither a re-import nor a ground-truth
event brings it back (a sync replays every ground-truth annotation, which would otherwise undo a
deliberate ``lsqa gold retire``). Its answers stay, so its statistics remain.

Expert answers live only here; nothing in this module writes to Label Studio.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, and_, case, func, insert, not_, select, update

from plugin.gold.choose import eligible_items
from plugin.gold.ledger import gold_candidates, items_seen, label_config_of, labelled_task_ids
from plugin.gold.library import GoldDraft, classes_of
from plugin.labelconfig import LabelConfig, LabelConfigError, parse_label_config
from plugin.records import AnnotationRecord, TaskRecord
from plugin.store.schema import alerts, annotations, gold_answers, gold_copies, gold_items, tasks
from plugin.store.timestamps import as_utc

Origin = Literal["import", "project"]
RetireOutcome = Literal["retired", "already_retired", "missing"]
GroundTruthOutcome = Literal["added", "updated", "unchanged", "retired", "ignored"]


@dataclass(frozen=True)
class GoldUsage:
    """How an item has been used: copies served, answers scored, and how those answers went."""

    served: int
    answers: int
    mean_score: float | None
    miss_rate: float | None
    annotators: int


@dataclass(frozen=True)
class GoldItem:
    """A gold item as listed: provenance, classes and usage, but not the expert answer."""

    id: int
    project_id: int
    source_project_id: int | None
    source_task_id: int | None
    classes: tuple[str, ...]
    origin: str
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    usage: GoldUsage


def add_gold_items(
    conn: Connection,
    project_id: int,
    drafts: Iterable[GoldDraft],
    origin: Origin,
    *,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Add drafts to a project's library, or update the items they already are.

    Returns ``(added, updated)``; an item whose data, answer and classes are unchanged counts as
    neither, so importing the same export twice returns ``(0, 0)``. Retired items are left as they
    are. An existing item keeps its first ``origin``.
    """
    now = now or datetime.now(UTC)
    known = _ItemIndex(conn, project_id)
    added = updated = 0
    for draft in drafts:
        row = known.find(draft)
        values = {"data": draft.data, "expert_result": draft.expert_result, "classes": list(draft.classes)}
        if row is None:
            item_id = conn.execute(
                insert(gold_items)
                .values(
                    project_id=project_id,
                    source_project_id=draft.source_project_id,
                    source_task_id=draft.source_task_id,
                    origin=origin,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(gold_items.c.id)
            ).scalar_one()
            known.remember(draft, {"id": item_id, "retired_at": None, **values})
            added += 1
        elif row["retired_at"] is None and any(row[k] != v for k, v in values.items()):
            conn.execute(
                update(gold_items).where(gold_items.c.id == row["id"]).values(updated_at=now, **values)
            )
            known.remember(draft, {**row, **values})
            updated += 1
    return added, updated


class _ItemIndex:
    """A project's items by source, read once per call (gold libraries hold hundreds, not millions)."""

    def __init__(self, conn: Connection, project_id: int) -> None:
        columns = [gold_items.c[c] for c in ("id", "source_project_id", "source_task_id", "retired_at")]
        columns += [gold_items.c.data, gold_items.c.expert_result, gold_items.c.classes]
        query = select(*columns).where(gold_items.c.project_id == project_id).order_by(gold_items.c.id)
        self._by_source: dict[tuple[int | None, int], dict[str, Any]] = {}
        # Items without a source task (hand-made exports) are told apart by their data.
        self._sourceless: list[tuple[int | None, dict[str, Any]]] = []
        for row in conn.execute(query).mappings():
            self._store(row["source_project_id"], row["source_task_id"], dict(row))

    def find(self, draft: GoldDraft) -> dict[str, Any] | None:
        if draft.source_task_id is not None:
            return self._by_source.get((draft.source_project_id, draft.source_task_id))
        matches = (r for p, r in self._sourceless if p == draft.source_project_id and r["data"] == draft.data)
        return next(matches, None)

    def remember(self, draft: GoldDraft, row: dict[str, Any]) -> None:
        existing = self.find(draft)
        if existing is not None:
            existing.update(row)
        else:
            self._store(draft.source_project_id, draft.source_task_id, row)

    def _store(self, source_project_id: int | None, source_task_id: int | None, row: dict[str, Any]) -> None:
        if source_task_id is None:
            self._sourceless.append((source_project_id, row))
        else:
            self._by_source[(source_project_id, source_task_id)] = row


def list_gold_items(conn: Connection, project_id: int, *, include_retired: bool = False) -> list[GoldItem]:
    """A project's gold items, oldest first, with usage derived from their copies and answers.

    ``served`` counts copies ever created (answered or not), ``annotators`` the distinct people they
    were made for; ``mean_score`` and ``miss_rate`` (share of answers that did not pass) are None
    before the first answer.
    """
    of_project = select(gold_items.c.id).where(gold_items.c.project_id == project_id)
    served = (
        select(
            gold_copies.c.item_id,
            func.count().label("served"),
            func.count(func.distinct(gold_copies.c.annotator_id)).label("annotators"),
        )
        .where(gold_copies.c.item_id.in_(of_project))
        .group_by(gold_copies.c.item_id)
        .subquery()
    )
    answered = (
        select(
            gold_answers.c.item_id,
            func.count().label("answers"),
            func.avg(gold_answers.c.score).label("mean_score"),
            func.sum(case((not_(gold_answers.c.passed), 1), else_=0)).label("misses"),
        )
        .where(gold_answers.c.item_id.in_(of_project))
        .group_by(gold_answers.c.item_id)
        .subquery()
    )
    query = (
        select(gold_items, served.c.served, served.c.annotators, answered.c.answers, answered.c.mean_score)
        .add_columns(answered.c.misses)
        .outerjoin(served, served.c.item_id == gold_items.c.id)
        .outerjoin(answered, answered.c.item_id == gold_items.c.id)
        .where(gold_items.c.project_id == project_id)
        .order_by(gold_items.c.id)
    )
    if not include_retired:
        query = query.where(gold_items.c.retired_at.is_(None))
    return [_item(row) for row in conn.execute(query).mappings()]


def _item(row: RowMapping) -> GoldItem:
    answers = int(row["answers"] or 0)
    usage = GoldUsage(
        served=int(row["served"] or 0),
        answers=answers,
        mean_score=float(row["mean_score"]) if answers else None,
        miss_rate=int(row["misses"]) / answers if answers else None,
        annotators=int(row["annotators"] or 0),
    )
    return GoldItem(
        id=row["id"],
        project_id=row["project_id"],
        source_project_id=row["source_project_id"],
        source_task_id=row["source_task_id"],
        classes=tuple(row["classes"]),
        origin=row["origin"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        retired_at=row["retired_at"],
        usage=usage,
    )


@dataclass(frozen=True)
class LibraryLeft:
    """The items an annotator can still be served: in all, and per class of the active library
    (a class with nothing left for them counts 0; an item with two classes counts in both)."""

    total: int
    per_class: Mapping[str, int]


def unseen_items_left(conn: Connection, project_id: int, annotator_id: int) -> LibraryLeft:
    """How much of the project's library this annotator has not seen (nor labelled as a real task)."""
    candidates = gold_candidates(conn, project_id)
    left = eligible_items(
        candidates,
        seen_items=items_seen(conn, project_id, annotator_id),
        labelled_tasks=labelled_task_ids(conn, project_id, annotator_id),
    )
    per_class = dict.fromkeys(sorted({c for item in candidates for c in item.classes}), 0)
    for item in left:
        for label in item.classes:
            per_class[label] += 1
    return LibraryLeft(len(left), per_class)


def alerted_causes(conn: Connection, project_id: int, kind: str) -> dict[str, datetime]:
    """When an alert of ``kind`` was last raised for each cause (``details["cause"]``) in the project."""
    query = select(alerts.c.details, alerts.c.created_at).where(
        alerts.c.project_id == project_id, alerts.c.kind == kind
    )
    latest: dict[str, datetime] = {}
    for details, created_at in conn.execute(query):
        cause = (details or {}).get("cause")
        if cause is not None and (cause not in latest or as_utc(created_at) > latest[cause]):
            latest[cause] = as_utc(created_at)
    return latest


def items_added_since(conn: Connection, project_id: int, since: datetime) -> int:
    """Active items added to the project's library after ``since``."""
    query = select(func.count()).where(
        gold_items.c.project_id == project_id,
        gold_items.c.retired_at.is_(None),
        gold_items.c.created_at > since,
    )
    return int(conn.execute(query).scalar_one())


def retire_gold_item(conn: Connection, item_id: int, *, now: datetime | None = None) -> RetireOutcome:
    """Stop serving an item, for good (see the module docstring); its answers and statistics stay."""
    retired_at = conn.execute(select(gold_items.c.retired_at).where(gold_items.c.id == item_id)).first()
    if retired_at is None:
        return "missing"
    if retired_at[0] is not None:
        return "already_retired"
    conn.execute(
        update(gold_items).where(gold_items.c.id == item_id).values(retired_at=now or datetime.now(UTC))
    )
    return "retired"


def record_ground_truth(
    conn: Connection,
    project_id: int,
    task: TaskRecord | None,
    annotation: AnnotationRecord,
    task_data: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> GroundTruthOutcome:
    """Follow ground truth in a connected project: the worker calls this for each annotation event.

    An annotation marked ``ground_truth`` adds the item whose source is its task in that project,
    or updates it (origin ``project``). The task's data comes from ``task``, else ``task_data``,
    else the stored task; with none known the annotation is ``ignored``.

    An annotation that is *not* ground truth retires the item only if it is the annotation the item
    came from: the item's expert answer equals its result (we keep no annotation id, and an
    unset leaves the result as it was). If another ground-truth annotation of the task is still
    known, the item takes that one's answer instead of retiring. Any other annotation is ignored,
    so ordinary annotators' work on a source task never touches the item.
    """
    task_id = annotation.task_id if annotation.task_id is not None else (task.id if task else None)
    if task_id is None or annotation.was_cancelled:
        return "ignored"
    source_project_id = annotation.project_id if annotation.project_id is not None else project_id
    if annotation.ground_truth:
        data = task.data if task is not None else task_data
        if data is None:
            data = _stored_task_data(conn, task_id)
        if data is None:
            return "ignored"
        return _mark(
            conn, project_id, GoldDraft(task_id, source_project_id, dict(data), annotation.result, ()), now
        )
    item = (
        conn.execute(
            select(gold_items.c.data, gold_items.c.expert_result).where(
                gold_items.c.project_id == project_id,
                gold_items.c.source_project_id == source_project_id,
                gold_items.c.source_task_id == task_id,
                gold_items.c.retired_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    if item is None or item["expert_result"] != annotation.result:
        return "ignored"
    other = _other_ground_truth(conn, task_id, annotation.id)
    if other is not None:
        return _mark(conn, project_id, GoldDraft(task_id, source_project_id, item["data"], other, ()), now)
    item_id = conn.execute(
        select(gold_items.c.id).where(
            gold_items.c.project_id == project_id,
            gold_items.c.source_project_id == source_project_id,
            gold_items.c.source_task_id == task_id,
        )
    ).scalar_one()
    retire_gold_item(conn, item_id, now=now)
    return "retired"


def _mark(conn: Connection, project_id: int, draft: GoldDraft, now: datetime | None) -> GroundTruthOutcome:
    config = _project_config(conn, project_id)
    draft = GoldDraft(
        draft.source_task_id,
        draft.source_project_id,
        draft.data,
        list(draft.expert_result),
        classes_of(draft.expert_result, config),
    )
    added, updated = add_gold_items(conn, project_id, [draft], "project", now=now)
    return "added" if added else "updated" if updated else "unchanged"


def _stored_task_data(conn: Connection, task_id: int) -> dict[str, Any] | None:
    query = select(tasks.c.data).where(tasks.c.id == task_id, tasks.c.deleted.is_(False))
    data = conn.execute(query).scalar_one_or_none()
    return dict(data) if isinstance(data, dict) else None


def _other_ground_truth(conn: Connection, task_id: int, annotation_id: int) -> list[dict[str, Any]] | None:
    """The newest other live ground-truth answer of a task, as far as the store knows."""
    query = (
        select(annotations.c.result)
        .where(
            and_(
                annotations.c.task_id == task_id,
                annotations.c.id != annotation_id,
                annotations.c.ground_truth.is_(True),
                annotations.c.was_cancelled.is_(False),
                annotations.c.deleted.is_(False),
            )
        )
        .order_by(annotations.c.id.desc())
        .limit(1)
    )
    result = conn.execute(query).scalar_one_or_none()
    return list(result) if isinstance(result, list) else None


def _project_config(conn: Connection, project_id: int) -> LabelConfig | None:
    """The project's parsed label config, or None (unknown or unparsable: classes fall back to keys)."""
    xml = label_config_of(conn, project_id)
    if not xml:
        return None
    try:
        return parse_label_config(xml)
    except LabelConfigError:
        return None
