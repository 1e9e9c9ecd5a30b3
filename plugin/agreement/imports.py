"""Several ``TASKS_CREATED`` bodies of one big import form one batch.

Label Studio 1.23 sends an import's tasks in bodies of ``WEBHOOK_BATCH_SIZE`` (5,000) tasks, one
after the other inside the import request (measured: docs/agreement-at-scale.md). A JSON import
carries no import id (``file_upload`` is null), so a body continues the project's newest import
batch when its tasks come right after that batch's (higher ids) and were created within
``CONTINUATION_SECONDS`` of its last task: one import creates all its tasks before it sends the
first body, so their ``created_at`` are seconds apart at most.
"""

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select, update

from plugin.agreement.batches import BatchPolicy, attach, mark_sampled
from plugin.agreement.openset import refill
from plugin.agreement.sampling import batch_seed, choose_sample
from plugin.store.schema import tasks
from plugin.store.schema_agreement import agreement_batches, agreement_tasks
from plugin.store.timestamps import as_utc

CONTINUATION_SECONDS = 30.0


def continued_import(conn: Connection, project_id: int, fresh: list[int]) -> int | None:
    """The import batch these new tasks continue, if any."""
    newest = conn.execute(
        select(agreement_batches.c.id, agreement_batches.c.source)
        .where(agreement_batches.c.project_id == project_id)
        .order_by(agreement_batches.c.id.desc())
        .limit(1)
    ).first()
    if newest is None or newest.source != "import":
        return None
    last = conn.execute(
        select(func.max(agreement_tasks.c.task_id)).where(agreement_tasks.c.batch_id == newest.id)
    ).scalar_one_or_none()
    if last is None or min(fresh) <= last:
        return None
    before, after = _created_at(conn, last), _created_at(conn, min(fresh))
    if before is None or after is None:
        return None
    return int(newest.id) if abs(after - before) <= timedelta(seconds=CONTINUATION_SECONDS) else None


def _created_at(conn: Connection, task_id: int) -> datetime | None:
    value = conn.execute(select(tasks.c.created_at).where(tasks.c.id == task_id)).scalar_one_or_none()
    return as_utc(value) if value is not None else None


def extend_batch(conn: Connection, batch_id: int, fresh: list[int], policy: BatchPolicy) -> int:
    """Add the next body's tasks to the batch, with a sample of them drawn at the same rate."""
    batch = conn.execute(select(agreement_batches).where(agreement_batches.c.id == batch_id)).mappings().one()
    attach(conn, batch["project_id"], batch_id, fresh)
    seed = batch_seed(policy.salt, batch["project_id"], fresh)
    sample = choose_sample(fresh, policy.sample_rate, seed=seed)
    mark_sampled(conn, batch_id, sample)
    size = batch["sample_size"] + len(sample)
    conn.execute(
        update(agreement_batches)
        .where(agreement_batches.c.id == batch_id)
        .values(
            task_count=batch["task_count"] + len(fresh),
            sample_size=size,
            status="sampling" if size > batch["sample_done"] else batch["status"],
        )
    )
    if sample:
        refill(conn, batch["project_id"], policy.max_open)
    return batch_id
