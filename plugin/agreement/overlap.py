"""Raise the overlap of sampled tasks to 2 in Label Studio (the job ``openset.refill`` enqueued).

Community Edition has no task assignment: a task with overlap 2 is simply not done until two
different people have labelled it, and with ``show_overlap_first`` (which hidden gold needs too)
it is served before single-overlap tasks, so the sample is double-annotated early in the batch.
``PATCH /api/tasks/{id}`` sets the overlap but does not recompute ``is_labeled`` (notes §3): a
sampled task someone already labelled would stay "done" with one annotation, so for such a task
the service account adds a skip, which makes Label Studio recompute it (skips never count, and
the service account's annotations are nobody's work here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from plugin.agreement.batches import forget_tasks
from plugin.agreement.openset import PENDING, SET
from plugin.gold.ledger import copy_task_ids
from plugin.jobs import Job, RetryLater, finish_job
from plugin.store import Store
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger(__name__)
SAMPLE_OVERLAP = 2


class OverlapSetter:
    """Job handler: each sampled task's overlap is raised once; an interrupted job resumes."""

    def __init__(self, store: Store, adapter_factory: Callable[[], LabelStudioAdapter]) -> None:
        self.store = store
        self._adapter_factory = adapter_factory
        self._adapter: LabelStudioAdapter | None = None
        self._service_user_id: int | None = None

    @property
    def adapter(self) -> LabelStudioAdapter:
        if self._adapter is None:
            self._adapter = self._adapter_factory()
        return self._adapter

    def __call__(self, job: Job) -> None:
        from plugin.labelstudio import LabelStudioError

        try:
            self._run(job)
        except LabelStudioError as exc:
            raise RetryLater(str(exc)) from exc

    def _run(self, job: Job) -> None:
        """A raise job names its project (``openset.refill``); one left from before names a batch."""
        if "batch_id" in job.payload:
            where = agreement_tasks.c.batch_id == int(job.payload["batch_id"])
            project_of = select(agreement_batches.c.project_id).where(
                agreement_batches.c.id == int(job.payload["batch_id"])
            )
        else:
            where = agreement_tasks.c.project_id == int(job.payload["project_id"])
            project_of = select(agreement_tasks.c.project_id).where(where).limit(1)
        with self.store.read() as conn:
            project_id = conn.execute(project_of).scalar_one_or_none()
            pending = list(
                conn.execute(
                    select(agreement_tasks.c.task_id).where(where, agreement_tasks.c.overlap == PENDING)
                ).scalars()
            )
            copies = copy_task_ids(conn, project_id) if project_id is not None else set()
        if project_id is None:
            with self.store.begin() as conn:
                finish_job(conn, job.id, "failed", "batch vanished")
            return
        self._remember_service_user(project_id)
        for task_id in pending:
            if task_id in copies:  # a gold copy that slipped in while it was being recorded
                self._drop(task_id)
            else:
                self._raise_overlap(task_id)
        with self.store.begin() as conn:
            finish_job(conn, job.id)
        log.info("project %d: overlap %d set on %d sampled tasks", project_id, SAMPLE_OVERLAP, len(pending))

    def _remember_service_user(self, project_id: int) -> None:
        batches = agreement_batches.c
        unknown = (batches.project_id == project_id) & batches.service_user_id.is_(None)
        with self.store.read() as conn:
            if conn.execute(select(agreement_batches.c.id).where(unknown).limit(1)).first() is None:
                return
        if self._service_user_id is None:
            self._service_user_id = int(self.adapter.whoami()["id"])
        with self.store.begin() as conn:
            conn.execute(
                update(agreement_batches).where(unknown).values(service_user_id=self._service_user_id)
            )

    def _raise_overlap(self, task_id: int) -> None:
        from plugin.labelstudio import LabelStudioError

        try:
            task: dict[str, Any] = self.adapter.update_task(task_id, overlap=SAMPLE_OVERLAP)
        except LabelStudioError as exc:
            if exc.status != 404:
                raise
            self._drop(task_id)  # deleted meanwhile; its TASKS_DELETED says the same
            return
        if task.get("is_labeled"):
            self.adapter.create_annotation(task_id, result=[], was_cancelled=True)
        with self.store.begin() as conn:
            conn.execute(
                update(agreement_tasks)
                .where(agreement_tasks.c.task_id == task_id, agreement_tasks.c.overlap == PENDING)
                .values(overlap=SET)
            )

    def _drop(self, task_id: int) -> None:
        with self.store.begin() as conn:
            forget_tasks(conn, [task_id])
