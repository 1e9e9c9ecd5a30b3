"""Relabeling in the worker: reactions to reviewers' submissions, and the jobs that call Label Studio.

Flow: ``lsqa relabel push`` queues candidates (``plugin.relabel.candidates``) and enqueues a
``relabel_push`` job (and, with predictions, a ``relabel_scan`` job for confident learning). The push
job makes sure the relabel project exists (same label config plus a Header showing the reason, its
``model_version`` set so the questioned annotation shows as a prediction, notes §5, and our webhook),
then imports the queued items there in one call. A reviewer's submission in that project reaches the
webhook; the reaction below records the correction (and, for gold-backed records, scores it against
gold) and enqueues ``relabel_write_back``, which adds the corrected result to the source task as the
reviewer's annotation (the original stays) and tags the task ``relabeled`` in its meta.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from plugin.audit.trail import record
from plugin.batch_facts import BatchFacts
from plugin.gold.ledger import gold_item, label_config_of
from plugin.jobs import Job, enqueue_job
from plugin.labelconfig import LabelConfigError, parse_label_config
from plugin.records import Changes
from plugin.relabel.candidates import RelabelSettings
from plugin.relabel.queue import CORRECTED, PUSHED, item_for_relabel_task, update_item
from plugin.relabel.schedule import scan_on_new_model
from plugin.scoring import score_task
from plugin.settings import Settings

log = logging.getLogger(__name__)

REASON_KEY = "lsqa_reason"  # task data key the relabel project's Header shows
ITEM_META_KEY = "lsqa_relabel_item"


def relabel_settings(settings: Settings) -> RelabelSettings:
    return RelabelSettings(
        boundary_iou=settings["relabel.boundary_iou"],
        boundary_f1=settings["relabel.boundary_f1"],
        systematic_min_answers=settings["relabel.systematic_min_answers"],
        systematic_accuracy=settings["relabel.systematic_accuracy"],
        systematic_max_items=settings["relabel.systematic_max_items"],
    )


def react_to_event(
    conn: Connection,
    action: str,
    changes: Changes,
    settings: Settings,
    event_id: int,
    facts: BatchFacts | None = None,
) -> None:
    """Called by the worker in the event's transaction, after the domain rows are written, with its
    batch cache (``facts``; none: a cache of this event alone)."""
    facts = facts or BatchFacts()
    scan_on_new_model(conn, action, changes, settings)
    if action != "ANNOTATION_CREATED":
        return
    for annotation in changes.annotations:
        if annotation.was_cancelled or annotation.task_id is None or annotation.annotator_id is None:
            continue
        if not facts.relabel_project(conn, annotation.project_id):
            continue
        item = item_for_relabel_task(conn, annotation.project_id, annotation.task_id)  # type: ignore[arg-type]
        if item is None or item["status"] != PUSHED or item["review_annotation_id"] is not None:
            continue  # only a reviewer's first submission counts; later edits stay in the relabel project
        values: dict[str, Any] = {
            "review_annotation_id": annotation.id,
            "corrected_result": annotation.result,
            "corrected_by": annotation.annotator_id,
            "corrected_at": annotation.created_at or datetime.now(UTC),
        }
        values.update(verify_against_gold(conn, item, annotation.result))
        update_item(conn, item["id"], **values)
        facts.forget_task(item["source_task_id"])  # the reviewer's write-back to it is on its way
        enqueue_job(
            conn,
            "relabel_write_back",
            f"relabel_write_back:{item['id']}",
            {"item_id": item["id"]},
            project_id=item["project_id"],
        )


def verify_against_gold(
    conn: Connection, item: dict[str, Any], result: list[dict[str, Any]]
) -> dict[str, Any]:
    """For a gold-backed record: does the correction now pass against gold? Empty otherwise."""
    if item["gold_item_id"] is None:
        return {}
    gold = gold_item(conn, item["gold_item_id"])
    xml = label_config_of(conn, item["project_id"])
    if gold is None or not xml:
        return {}
    try:
        config = parse_label_config(xml)
    except LabelConfigError:
        return {}
    verdict = score_task(result, gold["expert_result"], config)
    return {"gold_verified": bool(verdict.passed), "gold_score": float(verdict.score)}


def job_handlers(
    store: Any, adapter_factory: Callable[[], Any], settings: Settings
) -> dict[str, Callable[[Job], None]]:
    """Handlers for the durable jobs this feature enqueues (``plugin.jobs``)."""
    from plugin.relabel.jobs import RelabelJobs

    return RelabelJobs(store, adapter_factory, settings).handlers()


def record_correction(conn: Connection, item: dict[str, Any], written_annotation_id: int) -> None:
    """The write-back is done: the item is corrected, and the audit trail says who, when and why."""
    update_item(conn, item["id"], status=CORRECTED, written_annotation_id=written_annotation_id)
    facts = {
        "item": item["id"],
        "reason_kind": item["reason_kind"],
        "reason": item["reason"],
        "original_annotation": item["annotation_id"],
        "review_annotation": item["review_annotation_id"],
        "new_annotation": written_annotation_id,
        "corrected_at": item["corrected_at"].isoformat() if item["corrected_at"] else None,
        "gold_verified": item["gold_verified"],
    }
    record(
        conn,
        "relabel.corrected",
        project_id=item["project_id"],
        actor=f"reviewer:{item['corrected_by']}",
        subject=f"task:{item['source_task_id']}",
        facts=facts,
    )
