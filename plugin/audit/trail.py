"""The audit trail's write side (placeholder: the final signature, storing nothing yet)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def record(
    conn: Connection,
    kind: str,
    *,
    project_id: int | None = None,
    actor: str | None = None,
    subject: str | None = None,
    facts: dict[str, Any] | None = None,
) -> None:
    """Append one QA fact in the caller's transaction.

    ``kind`` is a dotted name (``annotation.received``, ``gold.scored``, ``flag.raised``, ...),
    ``actor`` who did it (``annotator:12``, ``reviewer:7``, ``service``, ``admin``), ``subject`` what
    it is about (``task:123``, ``annotation:456``, ``batch:3``), ``facts`` JSON-safe details. Never
    gold answers or tokens.
    """
