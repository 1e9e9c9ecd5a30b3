"""The batches of a project as the API and ``lsqa agreement list`` show them (docs: contracts.md)."""

from typing import Any

from sqlalchemy import Connection, select

from plugin.store.schema_agreement import agreement_batches
from plugin.store.timestamps import iso_utc

CATEGORY_KEYS = ("label", "kappa", "ci", "n")


def list_batches(conn: Connection, project_id: int, kappa_threshold: float) -> list[dict[str, Any]]:
    """Every closed batch, oldest first; ``below_threshold`` follows the current threshold."""
    query = (
        select(agreement_batches)
        .where(agreement_batches.c.project_id == project_id, agreement_batches.c.status != "filling")
        .order_by(agreement_batches.c.id)
    )
    return [batch_summary(dict(row), kappa_threshold) for row in conn.execute(query).mappings()]


def batch_summary(batch: dict[str, Any], kappa_threshold: float) -> dict[str, Any]:
    figures = batch["figures"] or {}
    per_category = [
        {
            **{k: category.get(k) for k in CATEGORY_KEYS},
            "below_threshold": category.get("kappa") is not None and category["kappa"] < kappa_threshold,
        }
        for category in figures.get("per_category", [])
    ]
    return {
        "id": batch["id"],
        "source": batch["source"],
        "created_at": iso_utc(batch["created_at"]),
        "task_count": batch["task_count"],
        "sample_size": batch["sample_size"],
        "sample_done": batch["sample_done"],
        "status": batch["status"],
        "computed_at": iso_utc(batch["computed_at"]),
        "kappa": figures.get("kappa"),
        "kappa_ci": figures.get("kappa_ci"),
        "kappa_method": figures.get("method"),
        "alpha": figures.get("alpha"),
        "alpha_ci": figures.get("alpha_ci"),
        "raw_agreement": figures.get("raw_agreement"),
        "pairwise_f1": figures.get("pairwise_f1"),
        "per_category": per_category,
        "confusions": figures.get("confusions", []),
    }
