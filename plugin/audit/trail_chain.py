"""The audit trail's hash chain: canonical form, row hashes and verification. Pure: no I/O.

A row's hash is ``sha256(prev_hash + canonical row)``, where the canonical row is the compact,
key-sorted JSON object ``{"actor", "created_at", "facts", "kind", "project_id", "subject"}`` and
``facts`` is itself canonical JSON (sorted keys, compact separators, UTF-8, no NaN). The first row's
``prev_hash`` is 64 zeros. ``seq`` is not hashed: the chain of ``prev_hash`` fixes each row's place,
which is what lets :func:`verify_rows` tell a moved row (its own hash still holds) from an edited one.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Literal

GENESIS = "0" * 64
# Keys whose values are credentials, never to be written (``n_tokens`` is fine, ``api_token`` is not).
SECRET_KEY = re.compile(r"(?:^|[_.])(?:password|secret|token|api_?key|authorization|webhook_url)$", re.I)
REDACTED = "[redacted]"

Problem = Literal["edited", "removed", "reordered"]


@dataclass(frozen=True)
class TrailRow:
    """One row as stored or exported; ``created_at`` is UTC text, ``2026-01-31T12:00:00.000000Z``."""

    seq: int
    created_at: str
    kind: str
    project_id: int | None
    actor: str | None
    subject: str | None
    facts: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify_rows` found: ``ok``, the rows read, and the first problem if any."""

    ok: bool
    rows: int
    problem: Problem | None = None
    seq: int | None = None  # the first row edited, removed or out of order
    message: str = ""


def utc_text(moment: datetime) -> str:
    """The canonical text of a time; naive values (SQLite hands those back) are UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"  # without any "+00:00"


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON of ``value`` made JSON-safe by :func:`plain`."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars become Python numbers, NaN and infinities ``None``, times ISO
    text, tuples and sets lists; values under credential-like keys are redacted."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if SECRET_KEY.search(str(k)) and v is not None else plain(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=canonical_json)
    if hasattr(value, "item"):  # numpy scalar types that are not registered as numbers
        return plain(value.item())
    raise TypeError(f"audit facts must be JSON-safe, got {type(value).__name__}")


def row_text(
    created_at: str, kind: str, project_id: int | None, actor: str | None, subject: str | None, facts: str
) -> str:
    """The canonical row: the same text as ``canonical_json`` of the row's fields, with ``facts``
    (already canonical) embedded verbatim, so any change to the stored text changes the hash."""
    project = "null" if project_id is None else str(int(project_id))
    return (
        f'{{"actor":{_string(actor)},"created_at":{_string(created_at)},"facts":{facts},'
        f'"kind":{_string(kind)},"project_id":{project},"subject":{_string(subject)}}}'
    )


def _string(value: str | None) -> str:
    """``json.dumps(value, ensure_ascii=False)``, without its per-call overhead (verify runs it
    for every field of every row)."""
    return "null" if value is None else encode_basestring(value)


def row_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def hash_of(row: TrailRow) -> str:
    """The hash ``row`` should carry given its content and ``prev_hash``."""
    text = row_text(row.created_at, row.kind, row.project_id, row.actor, row.subject, row.facts)
    return row_hash(row.prev_hash, text)


def verify_rows(rows: Iterable[TrailRow], head: tuple[int, str] | None = None) -> Verdict:
    """Check a log read in ``seq`` order (or an export in file order); stops at the first problem.

    - *edited*: a row's hash does not match its content and ``prev_hash``;
    - *removed*: a row's ``prev_hash`` names a row found nowhere in the log (with a gap in ``seq``
      when numbers were not rewritten), or the log ends before ``head`` (the chain-head record);
    - *reordered*: a row's ``prev_hash`` names a row that is in the log, but elsewhere.

    The row named is the first one affected: the edited row, the first missing ``seq``, or the row
    found where another belongs.
    """
    iterator = iter(rows)
    expected, prev, count = 1, GENESIS, 0
    for row in iterator:
        if hash_of(row) != row.hash:
            return _broken("edited", count, row.seq, f"row {row.seq} was edited: its hash does not match")
        if row.prev_hash != prev:
            return _broken_link(row, expected, prev, count, iterator)
        if row.seq != expected:
            problem: Problem = "edited" if row.seq > expected else "reordered"
            return _broken(problem, count, row.seq, f"row {row.seq} carries the wrong seq ({expected} due)")
        expected, prev, count = expected + 1, row.hash, count + 1
    if head is not None and (head[0], head[1]) != (expected - 1, prev):
        if head[0] >= expected:
            message = f"{_rows(expected, head[0])} removed from the end (the chain head is at {head[0]})"
            return _broken("removed", count, expected, message)
        return _broken(
            "edited", count, head[0], f"the chain head (seq {head[0]}) does not match the last row"
        )
    return Verdict(True, count)


def _broken_link(row: TrailRow, expected: int, prev: str, count: int, rest: Iterator[TrailRow]) -> Verdict:
    """``row`` does not follow the last good row: was something taken out, or moved?"""
    predecessor = None
    successor = None
    for later in rest:  # the rest of the log, once, to see where row's predecessor went
        if later.hash == row.prev_hash:
            predecessor = later.seq
        if later.prev_hash == prev:
            successor = later.seq
        if predecessor is not None and successor is not None:
            break
    if predecessor is not None or successor is not None:
        where = f"it follows row {predecessor}" if predecessor is not None else "it is out of place"
        return _broken("reordered", count, row.seq, f"row {row.seq} was moved: {where}")
    if row.seq > expected:
        message = f"{_rows(expected, row.seq - 1)} removed (row {row.seq} follows row {expected - 1})"
        return _broken("removed", count, expected, message)
    if expected == 1:
        return _broken("edited", count, row.seq, f"row {row.seq} does not start the chain")
    # No gap: the row before was rewritten with a recomputed hash, or rows were cut and renumbered.
    message = (
        f"row {expected - 1} was rewritten (row {row.seq} no longer links to it) or rows after it removed"
    )
    return _broken("edited", count, expected - 1, message)


def _broken(problem: Problem, count: int, seq: int, message: str) -> Verdict:
    return Verdict(False, count, problem, seq, message)


def _rows(first: int, last: int) -> str:
    return f"row {first} was" if first == last else f"rows {first}-{last} were"
