"""Tables of the relabel feature (issue #5), on the store's one MetaData.

``relabel_projects``: per source project, the Label Studio project its suspect records go to for
review. ``relabel_items``: one row per candidate (source task or annotation + reason kind, unique
through ``dedupe_key``), from queueing through the push to the reviewer's correction. A queued item
with a ``relabel_project_id`` was sent there in an import whose answer has not been recorded yet
(``plugin.relabel.jobs``: the next push looks for it before importing it again).
"""

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Float, Index, String, Table, Text

from plugin.store.schema import Id, metadata

relabel_projects = Table(
    "relabel_projects",
    metadata,
    Column("source_project_id", BigInteger, primary_key=True, autoincrement=False),
    Column("relabel_project_id", BigInteger, nullable=False, index=True),  # one named project may serve all
    Column("created_by_service", Boolean, nullable=False),
    Column("webhook_id", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

relabel_items = Table(
    "relabel_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("dedupe_key", String(128), nullable=False, unique=True),
    Column("source_task_id", BigInteger, nullable=False),
    Column("annotation_id", BigInteger),
    Column("annotator_id", BigInteger),
    Column("gold_item_id", BigInteger),
    Column("reason_kind", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("prefill", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("relabel_project_id", BigInteger),
    Column("relabel_task_id", BigInteger),
    Column("pushed_at", DateTime(timezone=True)),
    Column("review_annotation_id", BigInteger),
    Column("corrected_result", JSON),
    Column("corrected_by", BigInteger),
    Column("corrected_at", DateTime(timezone=True)),
    Column("written_annotation_id", BigInteger),
    Column("gold_verified", Boolean),
    Column("gold_score", Float),
    Index("ix_relabel_items_project_status", "project_id", "status"),
    Index("ix_relabel_items_relabel_task", "relabel_task_id"),
    # plugin.relabel.guards looks write-backs up by (source task, reviewer) for each annotation row
    Index("ix_relabel_items_source_task", "source_task_id", "corrected_by"),
)

# One Data Manager tab per open flag or weak batch (``plugin.relabel.views``): the view's id in Label
# Studio and the task ids it shows (and whose meta carries the subject), so a change is a diff.
relabel_views = Table(
    "relabel_views",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("view_id", BigInteger),
    Column("title", Text, nullable=False),
    Column("task_ids", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ux_relabel_views_subject", "project_id", "subject", unique=True),
)
