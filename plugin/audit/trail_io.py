"""Reading the audit trail: rows from the store, CSV and JSON Lines exports, and exports read back
(an auditor can verify a full export without access to the database)."""

from __future__ import annotations

import csv
import json
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing, suppress
from typing import IO, Any, Literal

from sqlalchemy import Connection, select

from plugin.audit.trail_chain import TrailRow, Verdict, canonical_json, utc_text, verify_rows
from plugin.store.schema_audit import audit_head, audit_log

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
COLUMNS = ("seq", "created_at", "kind", "project_id", "actor", "subject", "facts", "prev_hash", "hash")
FETCH_ROWS = 1000


class TrailFileError(ValueError):
    """An export file that cannot be read as an audit trail; one line."""


def iter_rows(
    conn: Connection, *, project_id: int | None = None, kinds: Iterable[str] | None = None
) -> Generator[TrailRow, None, None]:
    """Rows in ``seq`` order, streamed (the log can be far larger than memory)."""
    query = select(*(audit_log.c[name] for name in COLUMNS)).order_by(audit_log.c.seq)
    if project_id is not None:
        query = query.where(audit_log.c.project_id == project_id)
    if kinds is not None:
        query = query.where(audit_log.c.kind.in_(list(kinds)))
    # Closed with the generator: a verification that stops at the first bad row leaves no
    # server-side cursor behind.
    with conn.execution_options(yield_per=FETCH_ROWS).execute(query) as result:
        for seq, created_at, kind, project, actor, subject, facts, prev_hash, digest in result:
            yield TrailRow(seq, utc_text(created_at), kind, project, actor, subject, facts, prev_hash, digest)


def chain_head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return (int(row[0]), str(row[1])) if row else None


def verify_store(conn: Connection) -> tuple[Verdict, tuple[int, str] | None]:
    """Verify the whole trail against its chain head; returns the verdict and the head."""
    head = chain_head(conn)
    with closing(iter_rows(conn)) as rows:
        return verify_rows(rows, head), head


def as_json(row: TrailRow) -> dict[str, Any]:
    """The row with ``facts`` as an object (kept as text if it is not JSON: a tampered row)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in COLUMNS}
    with suppress(ValueError):
        values["facts"] = json.loads(row.facts)
    return values


def write_rows(rows: Iterable[TrailRow], out: IO[str], fmt: Format) -> int:
    """Write ``rows`` as CSV (header, ``facts`` as canonical JSON text) or JSON Lines; returns the count."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if getattr(row, name) is None else getattr(row, name) for name in COLUMNS])
            count += 1
        return count
    for row in rows:
        out.write(json.dumps(as_json(row), ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def read_rows(handle: IO[str], fmt: Format) -> Iterator[TrailRow]:
    """Rows of an export, in file order."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or tuple(reader.fieldnames) != COLUMNS:
            raise TrailFileError(f"not an audit trail CSV: the header must be {','.join(COLUMNS)}")
        for line, values in enumerate(reader, start=2):
            yield _row({k: (v if v != "" else None) for k, v in values.items()}, line)
        return
    for line, text in enumerate(handle, start=1):
        if text.strip():
            try:
                values = json.loads(text)
            except ValueError:
                raise TrailFileError(f"line {line} is not JSON") from None
            if not isinstance(values, dict):
                raise TrailFileError(f"line {line} is not a JSON object")
            facts = values.get("facts")
            values["facts"] = facts if isinstance(facts, str) else canonical_json(facts)
            yield _row(values, line)


def _row(values: dict[str, Any], line: int) -> TrailRow:
    try:
        project = values.get("project_id")
        return TrailRow(
            seq=int(values["seq"]),
            created_at=str(values["created_at"]),
            kind=str(values["kind"]),
            project_id=None if project is None else int(project),
            actor=values.get("actor"),
            subject=values.get("subject"),
            facts=str(values.get("facts") or "{}"),
            prev_hash=str(values["prev_hash"]),
            hash=str(values["hash"]),
        )
    except (KeyError, TypeError, ValueError):
        raise TrailFileError(f"line {line} is not an audit trail row") from None


def format_of(path: str) -> Format:
    """``csv`` or ``jsonl`` from the file name; JSON Lines unless it ends in .csv."""
    return "csv" if path.lower().endswith(".csv") else "jsonl"
