"""Tables of the agreement feature (issue #5), on the store's one MetaData.

A batch is one import (or every N new tasks); a random share of its tasks, the sample, is
labelled by two different annotators and the batch's agreement figures are kept with it.
"""

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, String, Table

from plugin.store.schema import Id, metadata

agreement_batches = Table(
    "agreement_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),  # import | every_n | sync | backlog
    Column("status", String(16), nullable=False),  # filling (every_n only) | sampling | complete
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("task_count", Integer, nullable=False),
    Column("sample_size", Integer, nullable=False),
    Column("sample_done", Integer, nullable=False, server_default="0"),
    Column("seed", BigInteger, nullable=False),  # drew the sample and the bootstrap resamples
    Column("service_user_id", BigInteger),  # our own account: its annotations are nobody's work
    Column("computed_at", DateTime(timezone=True)),
    Column("figures", JSON),
    Column("alerted", JSON),  # categories already alerted for this batch
    Index("ix_agreement_batches_project_status", "project_id", "status"),
)

# Every task that belongs to a batch. Label Studio may hand a deleted task's id to a later import,
# so rows go when their task is deleted.
agreement_tasks = Table(
    "agreement_tasks",
    metadata,
    Column("project_id", BigInteger, primary_key=True, autoincrement=False),
    Column(
        "task_id", BigInteger, primary_key=True, autoincrement=False, index=True
    ),  # events name tasks only
    Column("batch_id", BigInteger, nullable=False, index=True),
    Column("sampled", Boolean, nullable=False),
    # sampled tasks: waiting | pending | set (overlap 2 in Label Studio) | done (plugin.agreement.openset)
    Column("overlap", String(16)),
    Index("ix_agreement_tasks_open_set", "project_id", "overlap", "batch_id", "task_id"),
)
