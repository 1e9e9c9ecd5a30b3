"""The relabel feature's calls into Label Studio, run as durable jobs (``plugin.jobs``).

Every step is recorded before the next one starts, so a job interrupted by an outage resumes where
it stopped: a relabel project is recorded as soon as it exists, task ids as soon as an import
returns, the source annotation id as soon as the write-back created it.
"""

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from plugin.connect import desired_webhook
from plugin.events import parse_project
from plugin.gold.ledger import copy_task_ids, label_config_of
from plugin.jobs import DONE, FAILED, Job, RetryLater, finish_job, retry_when_unreachable
from plugin.labelconfig import LabelConfigError, parse_label_config
from plugin.relabel.candidates import Candidate
from plugin.relabel.confident import find_label_suspects, prediction_probabilities, single_choice
from plugin.relabel.engine import ITEM_META_KEY, REASON_KEY, record_correction
from plugin.relabel.guards import not_written_back
from plugin.relabel.queue import PUSHED, QUEUED, items_of, queue_candidates, relabel_project_of, update_item
from plugin.relabel.schedule import run_cycle
from plugin.relabel.views import sync_views
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.domain import upsert_project
from plugin.store.schema import annotations, projects, tasks
from plugin.store.schema_relabel import relabel_items, relabel_projects
from plugin.store.timestamps import as_utc

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger(__name__)
IMPORT_CHUNK = 200


def with_reason_header(label_config: str) -> str:
    """The label config with a Header showing the reason above everything else."""
    header = f'<Header value="${REASON_KEY}"/>'
    return re.sub(r"(<View\b[^>]*?(?<!/)>)", lambda m: f"{m.group(1)}\n  {header}", label_config, count=1)


def push_job_key(project_id: int, last_item_id: int) -> str:
    return f"relabel_push:{project_id}:{last_item_id}"


class RelabelJobs:
    def __init__(self, store: Store, adapter_factory: Callable[[], "LabelStudioAdapter"], settings: Settings):
        self.store = store
        self.settings = settings
        self._adapter_factory = adapter_factory
        self._adapter: LabelStudioAdapter | None = None

    @property
    def adapter(self) -> "LabelStudioAdapter":
        if self._adapter is None:
            self._adapter = self._adapter_factory()
        return self._adapter

    def close(self) -> None:
        if self._adapter is not None:
            self._adapter.close()
            self._adapter = None

    def handlers(self) -> dict[str, Callable[[Job], None]]:
        return {
            "relabel_push": retry_when_unreachable(self.push),
            "relabel_scan": retry_when_unreachable(self.scan),
            "relabel_write_back": retry_when_unreachable(self.write_back),
            "relabel_cycle": lambda job: run_cycle(self.store, self.settings, job),
            "relabel_views": retry_when_unreachable(self.views),
        }

    def views(self, job: Job) -> None:
        """The project's Data Manager tabs of open flags and weak batches (``plugin.relabel.views``)."""
        project_id = int(job.payload["project_id"])
        threshold, min_items = (
            self.settings["agreement.kappa_threshold"],
            self.settings["agreement.min_items"],
        )
        note = sync_views(self.store, self.adapter, project_id, threshold, min_items)
        with self.store.begin() as conn:
            finish_job(conn, job.id, DONE, note)

    # -- push ------------------------------------------------------------------------------------------------

    def push(self, job: Job) -> None:
        project_id = int(job.payload["project_id"])
        with self.store.read() as conn:
            queued = items_of(conn, project_id, QUEUED)
            data = _task_data(conn, [i["source_task_id"] for i in queued])
        if not queued:
            with self.store.begin() as conn:
                finish_job(conn, job.id, DONE, "nothing queued")
            return
        target = self.ensure_relabel_project(project_id)
        model_version = self.settings["relabel.model_version"]
        for start in range(0, len(queued), IMPORT_CHUNK):
            self._push_chunk(target, queued[start : start + IMPORT_CHUNK], data, model_version)
        if self.adapter.get_project(target).get("model_version") != model_version:
            # A named project: LS accepts a model_version only once predictions carry it (notes §5).
            self.adapter.update_project(target, model_version=model_version)
        with self.store.begin() as conn:
            finish_job(conn, job.id, DONE, f"pushed {len(queued)} to project {target}")

    def _push_chunk(
        self, target: int, chunk: list[dict[str, Any]], data: dict[int, dict[str, Any]], model_version: str
    ) -> None:
        """Import the chunk's items into the relabel project and record their task ids.

        An import is not idempotent, and its answer can be lost after Label Studio took it (a timeout,
        a dropped connection, a crash before recording). So the items are recorded as sent to
        ``target`` (``relabel_project_id`` while still queued) before the call, and a later push (this
        job's retry or the next slot's job) looks for sent items in Label Studio by the item id in each
        task's meta (``ITEM_META_KEY``) and imports only those it does not find.
        """
        sent = [i["id"] for i in chunk if i["relabel_project_id"] == target]
        since = min(as_utc(i["queued_at"]) for i in chunk)  # an item's task is younger than the item
        task_of = self.adapter.tasks_marked(target, ITEM_META_KEY, sent, since) if sent else {}
        missing = [i for i in chunk if i["id"] not in task_of]
        if missing:
            with self.store.begin() as conn:
                for item in missing:
                    update_item(conn, item["id"], relabel_project_id=target)
            payload = [self._relabel_task(item, data, model_version) for item in missing]
            task_ids = self.adapter.import_tasks(target, payload)
            if len(task_ids) != len(missing):
                raise RetryLater(
                    f"import into project {target} returned {len(task_ids)} ids for {len(missing)}"
                )
            task_of.update(zip([i["id"] for i in missing], task_ids, strict=True))
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            for item in chunk:
                task_id = task_of[item["id"]]
                update_item(conn, item["id"], status=PUSHED, relabel_task_id=task_id, pushed_at=now)

    def _relabel_task(
        self, item: dict[str, Any], data: dict[int, dict[str, Any]], model_version: str
    ) -> dict[str, Any]:
        source = data.get(item["source_task_id"])
        if source is None:
            source = dict(self.adapter.get_task(item["source_task_id"]).get("data") or {})
        task: dict[str, Any] = {
            "data": {**source, REASON_KEY: item["reason"]},
            "meta": {ITEM_META_KEY: item["id"], "source_task": item["source_task_id"]},
        }
        if item["prefill"]:
            task["predictions"] = [{"model_version": model_version, "result": item["prefill"]}]
        return task

    def ensure_relabel_project(self, project_id: int) -> int:
        """The relabel project of a source project: the one named in settings, or one we create."""
        with self.store.read() as conn:
            known = relabel_project_of(conn, project_id)
            xml = label_config_of(conn, project_id)
            title = conn.execute(select(projects.c.title).where(projects.c.id == project_id)).scalar()
        if known is not None:
            return int(known["relabel_project_id"])
        named = self.settings["relabel.project_id"]
        if named is not None:
            project = self.adapter.get_project(named)
        else:
            if not xml:
                xml = self.adapter.get_project(project_id)["label_config"]
            project = self.adapter.create_project(
                f"{title or f'project {project_id}'} - relabel",
                with_reason_header(xml),
                model_version=self.settings["relabel.model_version"],
                show_collab_predictions=True,
                description=f"Records of project {project_id} sent back for review by label-studio-qa.",
            )
        with self.store.begin() as conn:  # recorded at once: a retry must not create a second project
            upsert_project(conn, parse_project(project), 0)
            conn.execute(
                relabel_projects.insert().values(
                    source_project_id=project_id,
                    relabel_project_id=int(project["id"]),
                    created_by_service=named is None,
                    created_at=datetime.now(UTC),
                )
            )
        self._register_webhook(project_id, int(project["id"]))
        return int(project["id"])

    def _register_webhook(self, source_project_id: int, relabel_project_id: int) -> None:
        """Our webhook on the relabel project, as ``lsqa connect`` registers it on a source project."""
        want = desired_webhook(self.settings)
        hooks = [h for h in self.adapter.list_webhooks(relabel_project_id) if h.get("url") == want["url"]]
        hook = (
            hooks[0]
            if hooks
            else self.adapter.create_webhook(
                relabel_project_id, url=want["url"], headers=want["headers"], actions=want["actions"]
            )
        )
        with self.store.begin() as conn:
            conn.execute(
                relabel_projects.update()
                .where(relabel_projects.c.source_project_id == source_project_id)
                .values(webhook_id=int(hook["id"]))
            )

    # -- write back ------------------------------------------------------------------------------------------

    def write_back(self, job: Job) -> None:
        with self.store.read() as conn:
            row = (
                conn.execute(select(relabel_items).where(relabel_items.c.id == job.payload["item_id"]))
                .mappings()
                .first()
            )
        if row is None:
            with self.store.begin() as conn:
                finish_job(conn, job.id, FAILED, "relabel item vanished")
            return
        item = dict(row)
        written = item["written_annotation_id"]
        if written is None:
            created = self.adapter.create_annotation(
                item["source_task_id"],
                result=item["corrected_result"] or [],
                completed_by=item["corrected_by"],
            )
            written = int(created["id"])
            with self.store.begin() as conn:
                update_item(conn, item["id"], written_annotation_id=written)
        meta = dict(self.adapter.get_task(item["source_task_id"]).get("meta") or {})
        history = [h for h in meta.get("relabel") or [] if h.get("item") != item["id"]]
        history.append(
            {
                "item": item["id"],
                "reason": item["reason"],
                "reviewer": item["corrected_by"],
                "at": item["corrected_at"].isoformat() if item["corrected_at"] else None,
                "annotation": written,
                "replaces": item["annotation_id"],
            }
        )
        self.adapter.update_task(item["source_task_id"], meta={**meta, "relabeled": True, "relabel": history})
        with self.store.begin() as conn:
            record_correction(conn, item, written)
            finish_job(conn, job.id, DONE)

    # -- confident learning ----------------------------------------------------------------------------------

    def scan(self, job: Job) -> None:
        project_id = int(job.payload["project_id"])
        with self.store.read() as conn:
            xml = label_config_of(conn, project_id)
            tag, classes = _single_choice_tag(xml)
            rows = _labelled_work(conn, project_id) if tag else []
            settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar()
        found: list[Candidate] = []
        if tag and rows:
            model_version = (settings or {}).get("model_version") or None
            predictions = _latest_scored(list(self.adapter.iter_predictions(project_id)), model_version)
            found = confident_learning_candidates(rows, predictions, tag, classes)
        with self.store.begin() as conn:
            new = queue_candidates(conn, project_id, found)
            finish_job(conn, job.id, DONE, f"{len(found)} suspects, {len(new)} new")
        if new:
            from plugin.jobs import enqueue_job

            with self.store.begin() as conn:
                enqueue_job(
                    conn,
                    "relabel_push",
                    push_job_key(project_id, max(new)),
                    {"project_id": project_id},
                    project_id=project_id,
                )


def confident_learning_candidates(
    rows: list[dict[str, Any]], predictions: dict[int, dict[str, Any]], tag: str, classes: list[str]
) -> list[Candidate]:
    """Annotations whose label the model confidently disagrees with, as candidates."""
    examples, labels, probs = [], [], []
    for row in rows:
        label = single_choice(row["result"] or [], tag)
        prediction = predictions.get(row["task_id"])
        p = prediction_probabilities(prediction, tag, classes) if prediction and label in classes else None
        if p is not None:
            examples.append(row)
            labels.append(classes.index(label))  # type: ignore[arg-type]
            probs.append(p)
    if not examples:
        return []
    suspects = find_label_suspects(labels, np.vstack(probs))
    found = []
    for index in suspects:
        row, p = examples[index], probs[index]
        given = classes[labels[index]]
        top = classes[int(np.argmax(p))]
        reason = (
            f"confident learning: the model gives '{given}' {p[labels[index]]:.2f} and prefers '{top}' "
            f"({p.max():.2f})"
        )
        found.append(
            Candidate(
                row["task_id"],
                row["id"],
                row["annotator_id"],
                "confident_learning",
                reason,
                list(row["result"] or []),
            )
        )
    return found


def _latest_scored(predictions: list[dict[str, Any]], model_version: str | None) -> dict[int, dict[str, Any]]:
    """Each task's newest scored prediction, of the project's ``model_version`` when it has any (the
    model Label Studio shows, notes §5; mixing in older models' scores spoils the per-class thresholds)."""
    if model_version and any(p.get("model_version") == model_version for p in predictions):
        predictions = [p for p in predictions if p.get("model_version") == model_version]
    latest: dict[int, dict[str, Any]] = {}
    for p in sorted(predictions, key=lambda p: int(p.get("id") or 0)):
        if p.get("score") is not None and p.get("task") is not None:
            latest[int(p["task"])] = p
    return latest


def _single_choice_tag(xml: str | None) -> tuple[str | None, list[str]]:
    if not xml:
        return None, []
    try:
        config = parse_label_config(xml)
    except LabelConfigError:
        return None, []
    for name, control in config.controls.items():
        if control.tag == "choices" and not control.multiple and len(control.labels) >= 2:
            return name, list(control.labels)
    return None, []


def _labelled_work(conn: Any, project_id: int) -> list[dict[str, Any]]:
    copies = copy_task_ids(conn, project_id)
    query = select(annotations).where(
        annotations.c.project_id == project_id,
        annotations.c.deleted.is_(False),
        annotations.c.was_cancelled.is_(False),
        not_written_back(),  # a correction already reviewed is not questioned again
    )
    return [dict(r) for r in conn.execute(query).mappings() if r["task_id"] not in copies]


def _task_data(conn: Any, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not task_ids:
        return {}
    query = select(tasks.c.id, tasks.c.data).where(tasks.c.id.in_(task_ids), tasks.c.deleted.is_(False))
    return {int(i): dict(d or {}) for i, d in conn.execute(query)}
