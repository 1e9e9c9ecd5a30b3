"""Flags pushed back into Label Studio: a Data Manager tab per open flag and per weak batch.

The admin works in the Data Manager, so each open flag gets a tab there, titled with the annotator
and the reason, filtered to their suspect work since the decline began (``suspect_annotation_ids``);
a batch with a category whose kappa is low on evidence (``kappa_alert_due``) gets a tab of its
disagreeing sampled tasks. Every task shown also carries the subject in its ``meta``
(``lsqa_flags``: subject -> title; other meta keys stay). The ``relabel_views`` job
(:func:`sync_views`) makes Label Studio match what is wanted: new tabs are created, grown ones
updated, cleared flags' tabs deleted and their tasks' meta entries removed.

A tab filters on task ids, as Label Studio's Data Manager does it: an ``or`` of ``filter:tasks:id``
items, one per run of consecutive ids (``in`` a range, or ``equal``). Label Studio on SQLite fails
a view of about 1,500 items ("Expression tree is too large"), so a tab shows at most
:data:`MAX_FILTER_ITEMS` runs, the newest, and its title says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from plugin.agreement.compute import annotator_name, sample_disagreements
from plugin.gold.review import suspect_annotation_ids
from plugin.relabel.rules import kappa_alert_due
from plugin.store import Store
from plugin.store.relabel_tabs import forget_view, save_view, stored_views
from plugin.store.schema import annotations as annotation_rows
from plugin.store.schema import flags
from plugin.store.schema_agreement import agreement_batches

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

META_KEY = "lsqa_flags"
MAX_FILTER_ITEMS = 400
TITLE_PREFIX = "QA "  # every tab we own starts with "QA flag #N:" or "QA batch #N:"


@dataclass(frozen=True)
class WantedView:
    subject: str  # "flag:<id>" or "batch:<id>"
    title: str
    task_ids: tuple[int, ...]


def wanted_views(conn: Connection, project_id: int, threshold: float, min_items: int) -> list[WantedView]:
    return flag_views(conn, project_id) + batch_views(conn, project_id, threshold, min_items)


def flag_views(conn: Connection, project_id: int) -> list[WantedView]:
    query = select(flags.c.id, flags.c.annotator_id, flags.c.evidence).where(
        flags.c.project_id == project_id, flags.c.status == "open"
    )
    wanted = []
    for flag_id, annotator_id, evidence in conn.execute(query.order_by(flags.c.id)).all():
        ids = suspect_annotation_ids(conn, project_id, annotator_id)
        task_ids = _task_ids_of(conn, ids)
        reason = (evidence or {}).get("reason") or "flagged for requalification"
        title = f"{TITLE_PREFIX}flag #{flag_id}: {annotator_name(conn, annotator_id)} - {reason}"
        wanted.append(WantedView(f"flag:{flag_id}", title, task_ids))
    return wanted


def batch_views(conn: Connection, project_id: int, threshold: float, min_items: int) -> list[WantedView]:
    weak: dict[int, list[str]] = {}
    query = select(agreement_batches.c.id, agreement_batches.c.figures).where(
        agreement_batches.c.project_id == project_id, agreement_batches.c.figures.is_not(None)
    )
    for batch_id, figures in conn.execute(query).all():
        labels = [
            c["label"]
            for c in (figures or {}).get("per_category", [])
            if kappa_alert_due(c, threshold, min_items)
        ]
        if labels:
            weak[int(batch_id)] = labels
    if not weak:
        return []
    tasks: dict[int, set[int]] = {b: set() for b in weak}
    for d in sample_disagreements(conn, project_id):
        if d.batch_id in tasks:
            tasks[d.batch_id].add(d.pair.task_id)
    return [
        WantedView(
            f"batch:{b}",
            f"{TITLE_PREFIX}batch #{b}: low agreement on {', '.join(repr(label) for label in weak[b])}"
            f" (kappa < {threshold:.2f}): disagreeing sampled tasks",
            tuple(sorted(tasks[b])),
        )
        for b in sorted(weak)
    ]


def id_filters(task_ids: Iterable[int], limit: int = MAX_FILTER_ITEMS) -> tuple[dict[str, Any], int]:
    """The Data Manager filter showing exactly ``task_ids`` (the newest ``limit`` runs of consecutive
    ids when there are more), and how many ids it leaves out.

    >>> id_filters([3, 1, 2, 7])[0]["items"][0]["value"], id_filters([3, 1, 2, 7])[0]["items"][1]["operator"]
    ({'min': 1, 'max': 3}, 'equal')
    """
    runs: list[list[int]] = []
    for i in sorted(set(task_ids)):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    kept = runs[-limit:]
    left_out = sum(b - a + 1 for a, b in runs[: max(len(runs) - limit, 0)])
    items = [
        {"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": a}
        if a == b
        else {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": {"min": a, "max": b}}
        for a, b in kept
    ]
    if not items:  # an empty "or" shows every task: match none instead
        items = [{"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": 0}]
    return {"conjunction": "or", "items": items}, left_out


def sync_views(
    store: Store, adapter: LabelStudioAdapter, project_id: int, threshold: float, min_items: int
) -> str:
    """Make the project's QA tabs and task meta match the open flags and weak batches; a summary."""
    with store.read() as conn:
        wanted = {w.subject: w for w in wanted_views(conn, project_id, threshold, min_items)}
        stored = stored_views(conn, project_id)
    made = changed = removed = 0
    for subject, want in wanted.items():
        old = stored.get(subject)
        if old is not None and old["title"] == want.title and list(old["task_ids"]) == list(want.task_ids):
            continue
        _show(store, adapter, project_id, want, old)
        made, changed = made + (old is None), changed + (old is not None)
    for subject, old in stored.items():
        if subject not in wanted:
            if old["view_id"] is not None:
                adapter.delete_view(old["view_id"])
            _tag_tasks(adapter, old["task_ids"], subject, None)
            with store.begin() as conn:
                forget_view(conn, project_id, subject)
            removed += 1
    return f"{made} tabs created, {changed} updated, {removed} removed"


def _show(
    store: Store, adapter: LabelStudioAdapter, project_id: int, want: WantedView, old: dict[str, Any] | None
) -> None:
    """Create or update one tab, then the meta of the tasks it gained and lost; recorded after each step
    that a retry must not repeat (a tab created but not recorded is found again by its title's prefix)."""
    filters, left_out = id_filters(want.task_ids)
    title = want.title + (
        f" (newest {len(want.task_ids) - left_out} of {len(want.task_ids)})" if left_out else ""
    )
    view_id = old["view_id"] if old else _existing_view(adapter, project_id, want.subject)
    if view_id is None:
        view_id = int(adapter.create_view(project_id, title, filters)["id"])
        with store.begin() as conn:  # recorded at once, with the tasks it had before (none)
            save_view(conn, project_id, want.subject, view_id, want.title, old["task_ids"] if old else [])
    else:
        adapter.update_view(view_id, project_id, title, filters)
    before = set(old["task_ids"]) if old else set()
    _tag_tasks(adapter, sorted(set(want.task_ids) - before), want.subject, want.title)
    _tag_tasks(adapter, sorted(before - set(want.task_ids)), want.subject, None)
    with store.begin() as conn:
        save_view(conn, project_id, want.subject, view_id, want.title, want.task_ids)


def _existing_view(adapter: LabelStudioAdapter, project_id: int, subject: str) -> int | None:
    kind, number = subject.split(":")
    prefix = f"{TITLE_PREFIX}{kind} #{number}:"
    for view in adapter.list_views(project_id):
        if str((view.get("data") or {}).get("title", "")).startswith(prefix):
            return int(view["id"])
    return None


def _tag_tasks(adapter: LabelStudioAdapter, task_ids: Iterable[int], subject: str, title: str | None) -> None:
    """Add (title) or remove (None) ``subject`` in each task's ``meta[lsqa_flags]``, keeping other keys."""
    from plugin.labelstudio import LabelStudioError

    for task_id in task_ids:
        try:
            meta = dict(adapter.get_task(task_id).get("meta") or {})
        except LabelStudioError as exc:
            if exc.status == 404:  # the task was deleted meanwhile: nothing to mark
                continue
            raise
        marks = {k: v for k, v in dict(meta.get(META_KEY) or {}).items() if k != subject}
        if title is not None:
            marks[subject] = title
        if marks == dict(meta.get(META_KEY) or {}):
            continue
        if marks:
            meta[META_KEY] = marks
        else:
            meta.pop(META_KEY, None)
        adapter.update_task(task_id, meta=meta)


def _task_ids_of(conn: Connection, annotation_ids: list[int]) -> tuple[int, ...]:
    if not annotation_ids:
        return ()
    query = select(annotation_rows.c.task_id).where(annotation_rows.c.id.in_(annotation_ids))
    return tuple(sorted({int(t) for t in conn.execute(query).scalars()}))
