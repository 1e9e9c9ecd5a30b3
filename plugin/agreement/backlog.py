"""Sampling the tasks no live ``TASKS_CREATED`` announced: those that existed before ``lsqa connect``
or were imported while the service was down (the sync wrote them to the store).

``lsqa agreement backlog --project ID`` forms batches of ``agreement.batch_size`` tasks of those
that belong to no batch (never hidden gold copies), oldest first, one short transaction each; their
samples join the project's open set like any other (``plugin.agreement.openset``).
"""

from sqlalchemy import Connection, select

from plugin.agreement.batches import BatchPolicy, add_new_tasks
from plugin.gold.ledger import copy_task_ids
from plugin.store.schema import tasks
from plugin.store.schema_agreement import agreement_tasks


def unbatched_tasks(conn: Connection, project_id: int, limit: int) -> list[int]:
    """Up to ``limit`` of the project's tasks (oldest first) that belong to no batch, copies left out."""
    in_batches = select(agreement_tasks.c.task_id).where(agreement_tasks.c.project_id == project_id)
    query = (
        select(tasks.c.id)
        .where(tasks.c.project_id == project_id, tasks.c.deleted.is_(False), tasks.c.id.not_in(in_batches))
        .order_by(tasks.c.id)
    )
    copies = copy_task_ids(conn, project_id)
    found = list(conn.execute(query.limit(limit + len(copies))).scalars())
    return [t for t in found if t not in copies][:limit]


def sample_next_backlog_batch(
    conn: Connection, project_id: int, policy: BatchPolicy
) -> tuple[int, int] | None:
    """Form one backlog batch; returns its id and size, or None when nothing is left."""
    task_ids = unbatched_tasks(conn, project_id, policy.batch_size)
    if not task_ids:
        return None
    (batch_id,) = add_new_tasks(conn, project_id, task_ids, policy, source="backlog")
    return batch_id, len(task_ids)
