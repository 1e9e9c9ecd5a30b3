"""The store's tables (SQLAlchemy Core). Changes go through an Alembic migration as well.

Every domain row carries ``seq``: the ordering stamp of the fact that last wrote it. Events
write ``2 * inbox_id``, a reconciliation with the API writes ``2 * watermark + 1`` (the highest
inbox id when it began). A write applies only if its stamp is not older than the row's, which
makes replays harmless and lets a sync and late events interleave in any order. Deletions are
kept as tombstones (``deleted``) for the same reason.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("action", String(64), nullable=False),
    Column("project_id", BigInteger),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("processed_at", DateTime(timezone=True)),
    Column("processed_by", String(64)),
    Column("error", Text),
    Index("ix_inbox_status_id", "status", "id"),
    # A failed event is not tried again before this (back-off); NULL: whenever it comes up.
    Column("retry_after", DateTime(timezone=True)),
)

# The inbox events whose effects the database holds. Written in the transaction that applies an
# event, so it is exact even when the inbox is another file (SQLite), whose "done" mark can only
# follow that commit: an event found here is marked done again, never applied twice.
processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("title", String(255)),
    Column("label_config", Text),
    Column("settings", JSON),
    Column("connected", Boolean, nullable=False, server_default="0"),
    Column("webhook_id", BigInteger),
    Column("last_synced_at", DateTime(timezone=True)),
    Column("seq", BigInteger, nullable=False, server_default="0"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", BigInteger, index=True),
    Column("data", JSON),
    Column("meta", JSON),
    Column("inner_id", BigInteger),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("seq", BigInteger, nullable=False),
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", BigInteger, index=True),
    Column("task_id", BigInteger, index=True),
    Column("annotator_id", BigInteger, index=True),
    Column("result", JSON),
    Column("lead_time", Float),
    Column("was_cancelled", Boolean, nullable=False, server_default="0"),
    Column("ground_truth", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("seq", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("email", String(255)),
    Column("username", String(255)),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
)

# -- hidden gold (issue 4) ----------------------------------------------------------------------------

gold_items = Table(
    "gold_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False, index=True),
    Column("source_project_id", BigInteger),
    Column("source_task_id", BigInteger),
    Column("data", JSON, nullable=False),
    Column("expert_result", JSON, nullable=False),
    Column("classes", JSON, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True)),
    UniqueConstraint("project_id", "source_project_id", "source_task_id", name="uq_gold_items_source"),
)

# A hidden copy of a gold item in Label Studio: an ordinary task meant for one annotator. Label
# Studio may hand a deleted task's id to a later import, so the task id is not a key here.
gold_copies = Table(
    "gold_copies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("task_id", BigInteger),
    Column("item_id", BigInteger, nullable=False, index=True),
    Column("annotator_id", BigInteger, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("helper_annotation_ids", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_gold_copies_task_state", "task_id", "state"),
    Index("ix_gold_copies_annotator", "project_id", "annotator_id"),
)

gold_answers = Table(
    "gold_answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=False, index=True),
    Column("annotator_id", BigInteger, nullable=False),
    Column("copy_id", BigInteger, nullable=False),
    Column("annotation_id", BigInteger),
    Column("purpose", String(16), nullable=False),
    Column("result", JSON, nullable=False),
    Column("score", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("outcomes", JSON, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    Index("ix_gold_answers_annotator", "project_id", "annotator_id", "answered_at"),
    UniqueConstraint("copy_id", "annotator_id", name="uq_gold_answers_copy_annotator"),
)

# Per annotator and project: where they stand in the gold schedule and the QA process.
annotator_states = Table(
    "annotator_states",
    metadata,
    Column("project_id", BigInteger, primary_key=True, autoincrement=False),
    Column("annotator_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("onboarding_left", Integer, nullable=False, server_default="0"),
    Column("quiz_left", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

flags = Table(
    "flags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, nullable=False),
    Column("annotator_id", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    Column("decline_started_at", DateTime(timezone=True)),
    Column("evidence", JSON, nullable=False),
    Index("ix_flags_annotator", "project_id", "annotator_id"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("delivered", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Calls into Label Studio that the worker owes (create a gold copy, delete it, ...): written in the
# same transaction as the event that caused them, run after it, retried until they succeed.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(128), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("project_id", BigInteger),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_after", DateTime(timezone=True), nullable=False),  # while claimed: the claim's end
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(160)),  # the worker running it (plugin.store.job_claims), else null
    Index("ix_jobs_status_run_after", "status", "run_after"),
)

# One row per running worker, written by its heartbeat thread: /healthz and `lsqa status` tell
# from it whether a worker is alive (beat_at) and still getting through the inbox (progress_at).
worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("worker_id", String(128), primary_key=True),
    Column("beat_at", DateTime(timezone=True), nullable=False),
    Column("progress_at", DateTime(timezone=True)),
)

# Later features keep their tables in their own modules, on this same metadata.
from plugin.store import (  # noqa: E402,F401
    schema_agreement,
    schema_alerts,
    schema_audit,
    schema_dashboard,
    schema_relabel,
    schema_sync,
)
