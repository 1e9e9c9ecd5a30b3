"""What the worker's reactions ask about projects and tasks again and again, read once per batch.

Most events of a batch concern the same few projects and many of the same tasks, yet each reaction
used to ask the store on its own: is the project a connected source, a relabel project, does it
have gold; is the task a gold copy, a sampled task, a gold item's source, a write-back. Profiled on 2,000
``ANNOTATION_CREATED`` events (agreement and gold on; ``bench/bench_worker.py``): ~19 queries per
event, more than half of the worker's time in these look-ups. A :class:`BatchFacts` lives for one
batch (``Worker.process_batch``): project facts are read once per project, task facts for all the
tasks of a chunk of events in one query each.

The facts stay right within the batch because whatever changes one *during* the batch forgets it,
right where it writes:

* gold items (a ground-truth annotation adds or retires one): the gold engine forgets the
  project (:meth:`forget_project`) and the task;
* samples (``TASKS_CREATED`` closes a batch and draws its sample): the agreement engine forgets
  every task (:meth:`forget_tasks`);
* a correction (a reviewer's submission in the relabel project): the relabel engine forgets the
  source task; a copy answered: the gold engine forgets the copy's task;
* a rolled-back savepoint (an event of the group failed): the worker forgets everything.

``PROJECT_UPDATED`` changes none of these facts (what makes a connected source or a relabel project
is written by ``lsqa connect`` and the relabel push job, never by an event). Writes made outside
the batch (a job, a command, another worker) are seen from the next batch on: the events of a batch
were all received before it started, so nothing they depend on is written during it; a concurrent
write races with the batch with or without the cache.

``cached=False`` asks the store every time, as before the cache (the baseline of the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from plugin.relabel.guards import is_connected_source, is_relabel_project, is_write_back
from plugin.store.gold_copies import CopyRecord, live_copies_for_tasks, live_copy_for_task
from plugin.store.reaction_facts import (
    correctors_by_task,
    gold_source_task_ids,
    has_active_gold,
    sample_or_copy_task_ids,
)


@dataclass(frozen=True)
class TaskFacts:
    copy: CopyRecord | None  # the task's live gold copy, if it is one
    sampled_or_copy: bool  # its ratings can change a sample's progress or the open set
    gold_source: bool = False  # an active gold item came from it
    correctors: frozenset[int] = field(default_factory=frozenset)  # reviewers who corrected it


class BatchFacts:
    def __init__(self, *, cached: bool = True) -> None:
        self.cached = cached
        self._projects: dict[tuple[str, int], bool] = {}
        self._tasks: dict[int, TaskFacts] = {}

    # -- projects ---------------------------------------------------------------------------------------

    def connected_source(self, conn: Connection, project_id: int | None) -> bool:
        return self._project("connected_source", project_id, lambda p: is_connected_source(conn, p))

    def relabel_project(self, conn: Connection, project_id: int | None) -> bool:
        return self._project("relabel_project", project_id, lambda p: is_relabel_project(conn, p))

    def gold_active(self, conn: Connection, project_id: int | None) -> bool:
        """A connected source with gold items to serve."""
        return self.connected_source(conn, project_id) and self._project(
            "active_gold", project_id, lambda p: has_active_gold(conn, p)
        )

    def _project(self, fact: str, project_id: int | None, read: Callable[[int], bool]) -> bool:
        if project_id is None:
            return False
        if not self.cached:
            return read(project_id)
        key = (fact, project_id)
        if key not in self._projects:
            self._projects[key] = read(project_id)
        return self._projects[key]

    # -- tasks ------------------------------------------------------------------------------------------

    def read_tasks(self, conn: Connection, task_ids: Iterable[int | None]) -> None:
        """Read the facts of these tasks not known yet (the worker: all of a chunk's at once)."""
        if not self.cached:
            return
        missing = {t for t in task_ids if t is not None and t not in self._tasks}
        if not missing:
            return
        copies = live_copies_for_tasks(conn, missing)
        agreement = sample_or_copy_task_ids(conn, missing)
        sources = gold_source_task_ids(conn, missing)
        correctors = correctors_by_task(conn, missing)
        for task_id in missing:
            self._tasks[task_id] = TaskFacts(
                copy=copies.get(task_id),
                sampled_or_copy=task_id in agreement,
                gold_source=task_id in sources,
                correctors=frozenset(correctors.get(task_id, ())),
            )

    def live_copy(self, conn: Connection, task_id: int | None) -> CopyRecord | None:
        if task_id is None or not self.cached:
            return live_copy_for_task(conn, task_id)
        return self._task(conn, task_id).copy

    def sampled_or_copies(self, conn: Connection, task_ids: list[int]) -> list[int]:
        """Of these tasks, those whose ratings can change a sample's progress or the open set (all of
        them, uncached: the queries after this decide)."""
        if not self.cached:
            return task_ids
        return [t for t in task_ids if self._task(conn, t).sampled_or_copy]

    def may_touch_gold(self, conn: Connection, task_id: int | None, ground_truth: bool) -> bool:
        """Whether an annotation on this task can add, change or retire a gold item
        (``plugin.store.gold.record_ground_truth``): ground truth, or on an item's source task."""
        if ground_truth or task_id is None or not self.cached:
            return True
        return self._task(conn, task_id).gold_source

    def is_write_back(
        self, conn: Connection, task_id: int | None, annotator_id: int | None, annotation_id: int | None
    ) -> bool:
        """``plugin.relabel.guards.is_write_back``, asked only of a reviewer who corrected the task."""
        if task_id is None or annotator_id is None:
            return False
        if self.cached and annotator_id not in self._task(conn, task_id).correctors:
            return False
        return is_write_back(conn, task_id, annotator_id, annotation_id)

    def _task(self, conn: Connection, task_id: int) -> TaskFacts:
        if task_id not in self._tasks:
            self.read_tasks(conn, [task_id])
        return self._tasks[task_id]

    # -- what changed -----------------------------------------------------------------------------------

    def forget_project(self, project_id: int) -> None:
        self._projects = {k: v for k, v in self._projects.items() if k[1] != project_id}

    def forget_task(self, task_id: int | None) -> None:
        if task_id is not None:
            self._tasks.pop(task_id, None)

    def forget_tasks(self) -> None:
        self._tasks.clear()

    def forget_all(self) -> None:
        self._projects.clear()
        self._tasks.clear()
