"""Puts hidden gold copies into Label Studio and takes them out again (the jobs the engine enqueued).

Community Edition has no task assignment, so a copy reaches exactly one annotator this way
(shared/label-studio-notes.md §3, strategy "b2", measured there: 0 leaks in 73 copies):

1. create an ordinary task holding the gold item's data (``POST /api/tasks/``);
2. add a cancelled, empty annotation ("helper skip") for every other member of the organization,
   so Label Studio's next-task query treats the copy as done for them;
3. raise the copy's overlap to 2, so ``show_overlap_first`` serves it to the target next.

Once the target has answered, the copy is deleted, taking the helper skips with it, so exports,
task counts and Label Studio's statistics hold only real work. Each step is recorded before the
next, so a job interrupted by an outage resumes where it stopped.
"""

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from plugin.alerts import Alert
from plugin.gold.choose import GoldCandidate, choose_gold_item
from plugin.gold.ledger import (
    active_items,
    copy_by_id,
    gold_item,
    items_seen,
    labelled_task_ids,
    live_copies,
    record_copy,
    update_copy,
)
from plugin.gold.review import raise_alert
from plugin.jobs import DONE, Job, finish_job, retry_when_unreachable
from plugin.store import Store
from plugin.store.domain import delete_tasks, sync_seq
from plugin.store.inbox import max_event_id
from plugin.store.schema import jobs

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger(__name__)


class GoldInjector:
    def __init__(
        self, store: Store, adapter_factory: Callable[[], "LabelStudioAdapter"], *, seed: int | None = None
    ):
        self.store = store
        self._adapter_factory = adapter_factory
        self._adapter: LabelStudioAdapter | None = None
        self._service_user_id: int | None = None
        self._edition: str | None = None
        self._rng = random.Random(seed)

    @property
    def adapter(self) -> "LabelStudioAdapter":
        if self._adapter is None:
            self._adapter = self._adapter_factory()
        return self._adapter

    @property
    def enterprise(self) -> bool:
        """Enterprise has task assignment and pauses; Community needs the helper-skip route."""
        if self._edition is None:
            self._edition = self.adapter.server_info().edition
        return self._edition.lower() == "enterprise"

    def service_user_id(self) -> int:
        if self._service_user_id is None:
            self._service_user_id = int(self.adapter.whoami()["id"])
        return self._service_user_id

    def handlers(self) -> dict[str, Callable[[Job], None]]:
        return {
            "create_copy": retry_when_unreachable(self._create_copy),
            "delete_copy": retry_when_unreachable(self._delete_copy),
            "repair_project": retry_when_unreachable(self._repair_project),
            "pause_annotator": retry_when_unreachable(self._pause_annotator),
        }

    # -- create ----------------------------------------------------------------------------------------------

    def _create_copy(self, job: Job) -> None:
        copy_id = job.payload.get("copy_id") or self._choose_and_record(job)
        if copy_id is None:
            return
        with self.store.read() as conn:
            copy = copy_by_id(conn, copy_id)
            item = gold_item(conn, copy["item_id"]) if copy else None
        if copy is None or item is None:
            with self.store.begin() as conn:
                finish_job(conn, job.id, "failed", "copy or item vanished")
            return
        task_id = copy["task_id"]
        if task_id is None:
            task_id = int(self.adapter.create_task(copy["project_id"], item["data"])["id"])
            with self.store.begin() as conn:
                update_copy(conn, copy_id, task_id=task_id)
        if self.enterprise:  # task assignment does what helper skips do on Community
            self.adapter.assign_task(copy["project_id"], task_id, [copy["annotator_id"]])
            with self.store.begin() as conn:
                update_copy(conn, copy_id, state="live")
                finish_job(conn, job.id, DONE)
            return
        blocked = set(copy["helper_annotation_ids"] or [])
        for user_id in self._others(copy["annotator_id"]):
            if user_id in blocked:
                continue
            self.adapter.create_annotation(task_id, result=[], completed_by=user_id, was_cancelled=True)
            blocked.add(user_id)
            with self.store.begin() as conn:
                update_copy(conn, copy_id, helper_annotation_ids=sorted(blocked))
        self.adapter.update_task(task_id, overlap=2)
        with self.store.begin() as conn:
            update_copy(conn, copy_id, state="live")
            finish_job(conn, job.id, DONE)
        log.info("gold copy %d (task %d) is waiting for annotator %d", copy_id, task_id, copy["annotator_id"])

    def _choose_and_record(self, job: Job) -> int | None:
        project_id, annotator_id = job.payload["project_id"], job.payload["annotator_id"]
        with self.store.begin() as conn:
            candidates = [
                GoldCandidate(i["id"], i["classes"], _same_project_task(i, project_id), i["times_served"])
                for i in active_items(conn, project_id)
            ]
            item_id = choose_gold_item(
                candidates,
                seen_items=items_seen(conn, project_id, annotator_id),
                labelled_tasks=labelled_task_ids(conn, project_id, annotator_id),
                class_accuracy={},
                rng=self._rng,
            )
            if item_id is None:
                finish_job(conn, job.id, "skipped", "no gold item left that this annotator has not seen")
                log.warning("no eligible gold item for annotator %d in project %d", annotator_id, project_id)
                return None
            copy_id = record_copy(
                conn,
                project_id=project_id,
                item_id=item_id,
                annotator_id=annotator_id,
                purpose=job.payload["purpose"],
            )
            conn.execute(
                update(jobs).where(jobs.c.id == job.id).values(payload={**job.payload, "copy_id": copy_id})
            )
        return copy_id

    def _others(self, target: int) -> list[int]:
        """Everyone in the organization who must not be served the copy: all but target and us."""
        me = self.service_user_id()
        return sorted(int(u["id"]) for u in self.adapter.list_users() if int(u["id"]) not in (target, me))

    # -- repair ----------------------------------------------------------------------------------------------

    def _repair_project(self, job: Job) -> None:
        """Put back what copies rely on after an admin changed the project (PROJECT_UPDATED)."""
        project_id = job.payload["project_id"]
        project = self.adapter.get_project(project_id)
        repaired = []
        if not project.get("show_overlap_first"):
            self.adapter.update_project(project_id, show_overlap_first=True)
            repaired.append("show_overlap_first")
        with self.store.read() as conn:
            copies = live_copies(conn, project_id)
        for copy in copies:
            if copy.task_id is not None and copy.state == "live":
                self.adapter.update_task(copy.task_id, overlap=2)  # a new maximum_annotations rewrites it
        with self.store.begin() as conn:
            if repaired:
                raise_alert(
                    conn,
                    Alert(
                        kind="settings_repaired",
                        severity="warning",
                        project_id=project_id,
                        title=f"Project {project_id}: hidden gold settings restored",
                        text="show_overlap_first (it serves hidden gold copies) was off; it is on again.",
                        details={"restored": ", ".join(repaired)},
                    ),
                )
            finish_job(conn, job.id, DONE)

    # -- pause ----------------------------------------------------------------------------------------------

    def _pause_annotator(self, job: Job) -> None:
        """Enterprise: pause a flagged annotator who failed every quiz. Community has no pause (§4)."""
        project_id, annotator_id = job.payload["project_id"], job.payload["annotator_id"]
        if self.enterprise:
            self.adapter.pause_annotator(
                project_id, annotator_id, job.payload.get("reason", "failed requalification")
            )
            note = None
        else:
            note = "Community Edition cannot pause annotators; the flag and its alert stand"
            log.warning("annotator %d in project %d: %s", annotator_id, project_id, note)
        with self.store.begin() as conn:
            finish_job(conn, job.id, DONE, note)

    # -- delete ----------------------------------------------------------------------------------------------

    def _delete_copy(self, job: Job) -> None:
        with self.store.read() as conn:
            copy = copy_by_id(conn, job.payload["copy_id"])
        if copy and copy["task_id"] is not None and copy["state"] != "deleted":
            self.adapter.delete_task(copy["task_id"])
        with self.store.inbox_read() as conn:
            seq = sync_seq(max_event_id(conn))
        with self.store.begin() as conn:
            if copy:
                update_copy(conn, copy["id"], state="deleted", deleted_at=datetime.now(UTC))
                if copy["task_id"] is not None:
                    # What Label Studio's TASKS_DELETED will say too; not waiting for it keeps the
                    # copy's answer out of the annotator's regular work even if that event is lost.
                    delete_tasks(conn, [copy["task_id"]], seq)
            finish_job(conn, job.id, DONE)


def _same_project_task(item: dict[str, Any], project_id: int) -> int | None:
    """The item's source task, if it is a task of this project (only then can it have been labelled)."""
    source_project = item["source_project_id"]
    return item["source_task_id"] if source_project in (None, project_id) else None
