"""The audit trail's write side: append QA facts, hash-chained, in the caller's transaction.

Appends are serialized by locking the one-row chain head (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's write lock, taken at BEGIN IMMEDIATE, already serializes every writer). The lock is held
until the caller's transaction ends, so a rolled back append leaves neither a gap nor a fork.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from plugin.audit.trail_chain import GENESIS, canonical_json, row_hash, row_text, utc_text
from plugin.store.schema_audit import audit_head, audit_log

KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
HEAD_ID = 1
# Built once: appends are on the worker's hot path, and building a statement costs more than running it.
LOCK_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID).with_for_update()
MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == HEAD_ID)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
APPEND = audit_log.insert()


@dataclass(frozen=True)
class Entry:
    """One QA fact to append; see :func:`record` for the fields."""

    kind: str
    project_id: int | None = None
    actor: str | None = None
    subject: str | None = None
    facts: Mapping[str, Any] | None = None


def record(
    conn: Connection,
    kind: str,
    *,
    project_id: int | None = None,
    actor: str | None = None,
    subject: str | None = None,
    facts: dict[str, Any] | None = None,
) -> int:
    """Append one QA fact in the caller's transaction; returns its ``seq``.

    ``kind`` is a dotted name (``annotation.received``, ``gold.scored``, ``flag.raised``, ...),
    ``actor`` who did it (``annotator:12``, ``reviewer:7``, ``service``, ``admin``), ``subject`` what
    it is about (``task:123``, ``annotation:456``, ``batch:3``), ``facts`` JSON-safe details. Never
    gold answers or tokens (values under credential-like keys are redacted anyway).
    """
    return record_many(conn, [Entry(kind, project_id, actor, subject, facts)])


def record_many(conn: Connection, entries: Iterable[Entry]) -> int:
    """Append several facts with one lock, one multi-row INSERT and one head update; returns the
    last ``seq`` (the head's if ``entries`` is empty)."""
    rows = [_prepared(entry) for entry in entries]
    seq, prev = lock_trail(conn)
    if not rows:
        return seq
    created_at = datetime.now(UTC)
    stamp = utc_text(created_at)
    for row in rows:
        seq += 1
        text = row_text(stamp, row["kind"], row["project_id"], row["actor"], row["subject"], row["facts"])
        row.update(seq=seq, created_at=created_at, prev_hash=prev, hash=row_hash(prev, text))
        prev = row["hash"]
    conn.execute(APPEND, rows)
    conn.execute(MOVE_HEAD, {"head_seq": seq, "head_hash": prev})
    return seq


def _prepared(entry: Entry) -> dict[str, Any]:
    if not KIND.match(entry.kind) or len(entry.kind) > 64:
        raise ValueError(f"audit kind {entry.kind!r} is not a dotted lower-case name")
    if entry.facts is not None and not isinstance(entry.facts, Mapping):
        raise TypeError("audit facts must be a mapping")
    return {
        "kind": entry.kind,
        "project_id": None if entry.project_id is None else int(entry.project_id),
        # CSV cannot tell "" from missing, and both hash alike only if one of them never occurs.
        "actor": _text(entry.actor, 128, "actor"),
        "subject": _text(entry.subject, 255, "subject"),
        "facts": canonical_json(entry.facts or {}),
    }


def _text(value: str | None, limit: int, name: str) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise ValueError(f"audit {name} longer than {limit} characters")
    return value


def lock_trail(conn: Connection) -> tuple[int, str]:
    """The chain's last (seq, hash), locked until the caller's transaction ends: take it first to
    read the trail and append to it as one step (no other writer can append in between)."""
    head = conn.execute(LOCK_HEAD).first()
    if head is None:  # the migration creates it; rebuild it from the log if someone removed it
        last = conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        seq, digest = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        conn.execute(audit_head.insert().values(id=HEAD_ID, seq=seq, hash=digest))
        head = conn.execute(LOCK_HEAD).first()
        assert head is not None
    return int(head[0]), str(head[1])
