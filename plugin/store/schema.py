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
)
