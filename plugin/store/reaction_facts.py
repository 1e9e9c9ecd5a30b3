"""Facts the worker's reactions look up: for one project, or for many tasks at once.

The many-task reads serve :class:`plugin.batch_facts.BatchFacts`, which reads them for a whole chunk
of events in one query each instead of once per event.
"""

from collections.abc import Iterable

from sqlalchemy import Connection, select

from plugin.store.gold_copies import IN_CHUNK
from plugin.store.schema import gold_copies, gold_items
from plugin.store.schema_agreement import agreement_tasks
from plugin.store.schema_relabel import relabel_items


def has_active_gold(conn: Connection, project_id: int) -> bool:
    """Whether the project has a gold item that is not retired."""
    query = select(gold_items.c.id).where(
        gold_items.c.project_id == project_id, gold_items.c.retired_at.is_(None)
    )
    return conn.execute(query.limit(1)).first() is not None


def sample_or_copy_task_ids(conn: Connection, task_ids: Iterable[int]) -> set[int]:
    """Of these tasks, those sampled for agreement (in any batch, any state) or gold copies (in any
    state): the only tasks whose ratings can change a sample's progress or a project's open set."""
    ids = sorted(set(task_ids))
    found: set[int] = set()
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        sampled = select(agreement_tasks.c.task_id).where(
            agreement_tasks.c.task_id.in_(chunk), agreement_tasks.c.sampled.is_(True)
        )
        copies = select(gold_copies.c.task_id).where(gold_copies.c.task_id.in_(chunk))
        found.update(t for t in conn.execute(sampled.union(copies)).scalars() if t is not None)
    return found


def gold_source_task_ids(conn: Connection, task_ids: Iterable[int]) -> set[int]:
    """Of these tasks, those an active gold item came from (in any project): only an annotation on
    one of them can retire or change an item without being ground truth itself."""
    ids = sorted(set(task_ids))
    found: set[int] = set()
    for start in range(0, len(ids), IN_CHUNK):
        query = select(gold_items.c.source_task_id).where(
            gold_items.c.source_task_id.in_(ids[start : start + IN_CHUNK]), gold_items.c.retired_at.is_(None)
        )
        found.update(conn.execute(query.distinct()).scalars())
    return found


def correctors_by_task(conn: Connection, task_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per source task, the reviewers whose correction of one of its relabel items is recorded
    (only their annotations on the task can be write-backs, ``plugin.relabel.guards``)."""
    ids = sorted(set(task_ids))
    found: dict[int, set[int]] = {}
    for start in range(0, len(ids), IN_CHUNK):
        query = select(relabel_items.c.source_task_id, relabel_items.c.corrected_by).where(
            relabel_items.c.source_task_id.in_(ids[start : start + IN_CHUNK]),
            relabel_items.c.review_annotation_id.is_not(None),
            relabel_items.c.corrected_by.is_not(None),
        )
        for task_id, reviewer in conn.execute(query):
            found.setdefault(task_id, set()).add(reviewer)
    return found
