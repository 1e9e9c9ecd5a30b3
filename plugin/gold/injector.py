"""Puts hidden gold copies into Label Studio and takes them out again (the jobs the engine enqueued).

Community Edition has no task assignment, so a copy reaches exactly one annotator this way
(shared/label-studio-notes.md §3, strategy "b2", measured there: 0 leaks in 73 copies):

1. import an ordinary task holding the gold item's data together with a cancelled, empty annotation
   ("helper skip") for every other member of the organization, so Label Studio's next-task query
   treats the copy as done for them: one call whatever the organization's size;
2. check, with the copy hidden (overlap 0, is_labeled true), that the skips are there: Label Studio
   on SQLite can lose an import's annotations to one submitted at the same moment, and those are
   then posted one by one;
3. raise the copy's overlap to 2 (import ignores it), so ``show_overlap_first`` serves it next, and
   clear the ``is_labeled`` that import derives from the helper skips.

Once the target has answered, the copy is deleted, taking the helper skips with it, so exports,
task counts and Label Studio's statistics hold only real work: four calls per copy in all, plus a
read of the member list now and then (plugin.gold.members). Each step is recorded before the next,
so a job interrupted by an outage resumes where it stopped.
"""

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, update

from plugin.alerts import Alert
from plugin.gold.choose import choose_gold_item
from plugin.gold.ledger import (
    copy_by_id,
    gold_candidates,
    gold_item,
    items_seen,
    known_annotator_ids,
    labelled_task_ids,
    record_copy,
    update_copy,
)
from plugin.gold.library_watch import check_library_left
from plugin.gold.members import MEMBERS_MAX_AGE, MemberCache
from plugin.gold.review import raise_alert
from plugin.jobs import DONE, Job, finish_job, retry_when_unreachable
from plugin.store import Store
from plugin.store.domain import delete_tasks, sync_seq
from plugin.store.gold_copies import live_copies, live_copy_for_task
from plugin.store.inbox import max_event_id
from plugin.store.schema import jobs

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger(__name__)


class GoldInjector:
    def __init__(
        self,
        store: Store,
        adapter_factory: Callable[[], "LabelStudioAdapter"],
        *,
        seed: int | None = None,
        low_library_items: int = 10,
        members_max_age: float = MEMBERS_MAX_AGE,
    ):
        self.store = store
        self._adapter_factory = adapter_factory
        self._adapter: LabelStudioAdapter | None = None
        self._service_user_id: int | None = None
        self._edition: str | None = None
        self._rng = random.Random(seed)
        self.low_library_items = low_library_items
        self.members = MemberCache(lambda: self.adapter.list_users(), max_age=members_max_age)

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
        # Enterprise: task assignment does what helper skips do on Community.
        task_id = self._assigned_copy(copy, item) if self.enterprise else self._blocked_copy(copy, item)
        with self.store.begin() as conn:
            update_copy(conn, copy_id, state="live")
            finish_job(conn, job.id, DONE)
        log.info("gold copy %d (task %d) is waiting for annotator %d", copy_id, task_id, copy["annotator_id"])

    def _assigned_copy(self, copy: dict[str, Any], item: dict[str, Any]) -> int:
        task_id = copy["task_id"]
        if task_id is None:
            task_id = int(self.adapter.create_task(copy["project_id"], item["data"])["id"])
            with self.store.begin() as conn:
                update_copy(conn, copy["id"], task_id=task_id)
        self.adapter.assign_task(copy["project_id"], task_id, [copy["annotator_id"]])
        return int(task_id)

    def _blocked_copy(self, copy: dict[str, Any], item: dict[str, Any]) -> int:
        """Community: the copy and everyone else's helper skip in one import, then overlap 2."""
        task_id, blocked = copy["task_id"], set(copy["helper_annotation_ids"] or [])
        others = self._others(copy["annotator_id"])
        if task_id is None:
            try:
                task_id = self.adapter.import_task_skipped_by(copy["project_id"], item["data"], others)
            except Exception:
                self.members.forget()  # a member we listed may be gone: read the list again next time
                raise
            blocked = set(others)
            with self.store.begin() as conn:  # the import's answer is how we know our copy's id
                update_copy(conn, copy["id"], task_id=task_id, helper_annotation_ids=sorted(blocked))
        # Hidden while we look: overlap 0 with is_labeled true is never served, and a skip posted
        # below recomputes is_labeled as true again (0 finished annotations >= overlap 0). The
        # PATCH answers with the task as stored, its annotations included. meta={} clears the
        # marker a retried import looks for (labelstudio.import_task_skipped_by).
        task = self.adapter.update_task(task_id, overlap=0, is_labeled=True, meta={})
        # Skips missing in Label Studio are posted one by one, while the copy is hidden: when
        # resuming a copy made before someone joined, and when the import lost them. Label Studio
        # on SQLite numbers imported annotations itself (latest id + 1), and an annotation someone
        # submits at that moment can take the number: the import then answers 201 without its
        # skips (3 to 7 of 40 copies with three people labelling, measured on 1.23.2).
        from plugin.labelstudio import skipped_by  # the SDK is heavy to import; only when needed

        lost = sorted(set(others) - skipped_by(task))
        if set(lost) & blocked:
            log.warning(
                "gold copy %d (task %d): Label Studio's import lost %d of %d helper skips; posting them",
                copy["id"],
                task_id,
                len(set(lost) & blocked),
                len(others),
            )
        self._block(copy, task_id, lost, blocked)
        # Now served, to the target only. Import counted the skips' authors into is_labeled, and a
        # PATCH of overlap does not recompute it: it is set here.
        self.adapter.update_task(task_id, overlap=2, is_labeled=False)
        return int(task_id)

    def _block(self, copy: dict[str, Any], task_id: int, user_ids: list[int], blocked: set[int]) -> None:
        for user_id in user_ids:
            self.adapter.create_annotation(task_id, result=[], completed_by=user_id, was_cancelled=True)
            blocked.add(user_id)
            with self.store.begin() as conn:
                update_copy(conn, copy["id"], helper_annotation_ids=sorted(blocked))

    def _choose_and_record(self, job: Job) -> int | None:
        project_id, annotator_id = job.payload["project_id"], job.payload["annotator_id"]
        with self.store.begin() as conn:
            item_id = choose_gold_item(
                gold_candidates(conn, project_id),
                seen_items=items_seen(conn, project_id, annotator_id),
                labelled_tasks=labelled_task_ids(conn, project_id, annotator_id),
                class_accuracy={},
                rng=self._rng,
            )
            if item_id is None:
                finish_job(conn, job.id, "skipped", "no gold item left that this annotator has not seen")
                log.warning("no eligible gold item for annotator %d in project %d", annotator_id, project_id)
                check_library_left(conn, project_id, annotator_id, self.low_library_items)
                return None
            copy_id = record_copy(
                conn,
                project_id=project_id,
                item_id=item_id,
                annotator_id=annotator_id,
                purpose=job.payload["purpose"],
            )
            _note_in_payload(conn, job, copy_id=copy_id)
            check_library_left(conn, project_id, annotator_id, self.low_library_items)
        return copy_id

    def _others(self, target: int) -> list[int]:
        """Everyone in the organization who must not be served the copy: all but target and us."""
        me = self.service_user_id()
        with self.store.read() as conn:
            known = known_annotator_ids(conn) | {target}
        return sorted(self.members.member_ids(known) - {target, me})

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
        task_id = copy["task_id"] if copy and copy["state"] != "deleted" else None
        holder = self._task_holder(job, copy) if copy and task_id is not None else "gone"
        if holder == "copy":
            with self.store.begin() as conn:
                _note_in_payload(conn, job, delete_sent=True)
            self.adapter.delete_task(task_id)  # type: ignore[arg-type]
        with self.store.inbox_read() as conn:
            seq = sync_seq(max_event_id(conn))
        with self.store.begin() as conn:
            if copy:
                update_copy(conn, copy["id"], state="deleted", deleted_at=datetime.now(UTC))
            if task_id is not None and holder != "other":
                # What Label Studio's TASKS_DELETED will say too; not waiting for it keeps the
                # copy's answer out of the annotator's regular work even if that event is lost.
                delete_tasks(conn, [task_id], seq)
            finish_job(conn, job.id, DONE)

    def _task_holder(self, job: Job, copy: dict[str, Any]) -> Literal["copy", "gone", "other"]:
        """What the copy's task id names now: the copy, nothing, or another task.

        Asked of Label Studio only when a run before this one sent the DELETE: its import (on
        SQLite) hands a deleted task's id to the next task imported, which may be another copy or
        an annotator's real work, and that must be neither deleted nor forgotten.
        """
        if not job.payload.get("delete_sent"):
            return "copy"
        with self.store.read() as conn:
            holder = live_copy_for_task(conn, copy["task_id"])
            item = gold_item(conn, copy["item_id"])
        if holder is not None and holder.id != copy["id"]:
            return "other"
        from plugin.labelstudio import LabelStudioError  # the SDK is heavy to import; only when needed

        try:
            task = self.adapter.get_task(copy["task_id"])
        except LabelStudioError as exc:
            if exc.status == 404:  # the earlier run's DELETE went through
                return "gone"
            raise
        return "copy" if item is not None and task.get("data") == item["data"] else "other"


def _note_in_payload(conn: Connection, job: Job, **values: Any) -> None:
    """Remember in the job's payload how far it got, for its next run (same transaction as the step)."""
    job.payload.update(values)
    conn.execute(update(jobs).where(jobs.c.id == job.id).values(payload=dict(job.payload)))
