"""Tables of the audit trail (issue 6), on the store's one MetaData.

``audit_log`` is append-only: migration 0005 adds triggers that reject UPDATE and DELETE on both
engines (and TRUNCATE on PostgreSQL). Each row's ``hash`` is ``sha256(prev_hash + canonical row)``
(``plugin.audit.chain``); ``seq`` is assigned by the writer, not by a sequence, so that a rolled
back append leaves no gap. ``audit_head`` is one row (``id = 1``): the chain's last seq and hash,
locked by every append (serializes writers on PostgreSQL) and checked by ``lsqa audit-log verify``
(rows cut from the end of the log would otherwise go unnoticed).
"""

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from plugin.store.schema import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("project_id", BigInteger),
    Column("actor", String(128)),
    Column("subject", String(255)),
    Column("facts", Text, nullable=False),  # canonical JSON, exactly the text that was hashed
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_project_seq", "project_id", "seq"),
    Index("ix_audit_log_kind_seq", "kind", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
