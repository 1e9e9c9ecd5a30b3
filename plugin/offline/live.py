"""The audit report of a connected project, from the gold answers in the store.

Every answer an annotator gave to a hidden gold copy is compared again with the item's expert
result, through the same scoring and tally as the offline audit, so the live report has the same
keys. Only derived figures leave: the expert results stay in the store. A record is a gold item
(``flagged_records[].record`` is the gold item id, never a Label Studio task of the copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from plugin.gold.ledger import label_config_of
from plugin.labelconfig import LabelConfig, LabelConfigError, parse_label_config
from plugin.offline.infer import infer_label_config
from plugin.offline.reader import Comparison
from plugin.offline.report import build_report
from plugin.offline.tally import tally_comparisons
from plugin.scoring.settings import ScoringSettings
from plugin.store.schema import gold_answers, gold_items, projects


class UnknownProject(LookupError):
    """The store knows no such project."""


def live_report(
    conn: Connection, project_id: int, *, settings: ScoringSettings | None = None
) -> dict[str, Any]:
    """The report (same keys as ``lsqa audit``) of every gold answer given in ``project_id``.

    Raises
    ------
    UnknownProject
        When the project was never connected or synced here.
    """
    if conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is None:
        raise UnknownProject(f"project {project_id} is not known here: run lsqa connect")
    settings = settings or ScoringSettings()
    config = _config(conn, project_id)
    tally = tally_comparisons(_answers(conn, project_id), config, settings=settings)
    items = conn.execute(
        select(gold_items.c.id).where(
            gold_items.c.project_id == project_id, gold_items.c.retired_at.is_(None)
        )
    ).all()
    source = {
        "project_id": project_id,
        "gold_items": len(items),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return build_report(tally, settings=settings, source=source)


def _answers(conn: Connection, project_id: int) -> Iterator[Comparison]:
    query = (
        select(
            gold_answers.c.item_id,
            gold_answers.c.annotator_id,
            gold_answers.c.result,
            gold_items.c.expert_result,
        )
        .join(gold_items, gold_items.c.id == gold_answers.c.item_id)
        .where(gold_answers.c.project_id == project_id)
        .order_by(gold_answers.c.id)
    )
    for item_id, annotator_id, result, expert in conn.execution_options(yield_per=2000).execute(query):
        yield Comparison(item_id, annotator_id, list(result or []), list(expert or []))


def _config(conn: Connection, project_id: int) -> LabelConfig:
    """The project's stored label config; inferred from the expert results if missing or unreadable."""
    xml = label_config_of(conn, project_id)
    if xml:
        try:
            return parse_label_config(xml)
        except LabelConfigError:
            pass  # a config Label Studio accepted but we cannot read: fall back on the results
    experts = conn.execute(select(gold_items.c.expert_result).where(gold_items.c.project_id == project_id))
    return infer_label_config(r for (results,) in experts for r in results or [])
