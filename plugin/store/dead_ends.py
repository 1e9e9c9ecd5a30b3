"""What the watchdog (plugin.watchdog) reads to find dead ends: annotators on watch, batch kappas."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from plugin.store.schema import annotator_states, users
from plugin.store.schema_agreement import agreement_batches


def annotators_on_watch(conn: Connection) -> list[dict[str, Any]]:
    """Every (project_id, annotator_id, email) whose gold status is ``watch`` now."""
    query = (
        select(annotator_states.c.project_id, annotator_states.c.annotator_id, users.c.email)
        .select_from(annotator_states.outerjoin(users, users.c.id == annotator_states.c.annotator_id))
        .where(annotator_states.c.status == "watch")
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def batch_kappas(conn: Connection, per_project: int) -> dict[int, list[dict[str, Any]]]:
    """Per project, the last ``per_project`` computed batches with a kappa, oldest first:
    ``{"batch_id", "kappa", "kappa_ci"}``."""
    query = (
        select(agreement_batches.c.id, agreement_batches.c.project_id, agreement_batches.c.figures)
        .where(agreement_batches.c.computed_at.is_not(None))
        .order_by(agreement_batches.c.project_id, agreement_batches.c.id)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        figures = row.figures or {}
        if figures.get("kappa") is None:
            continue
        batch = {"batch_id": row.id, "kappa": figures["kappa"], "kappa_ci": figures.get("kappa_ci")}
        found.setdefault(int(row.project_id), []).append(batch)
    return {project: batches[-per_project:] for project, batches in found.items()}
