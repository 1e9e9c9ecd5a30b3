"""The agreement feature's worker hooks: reactions to events and the jobs they enqueue.

- TASKS_CREATED: new tasks (never hidden gold copies) form batches, one per import or every N
  tasks; each closed batch draws its sample and enqueues raising the sample's overlap.
- ANNOTATION_* and deletions: the sample's progress is recounted; a complete sample enqueues the
  computation of the batch's figures (done by a job, outside the event's transaction).
- TASKS_DELETED: deleted tasks leave their batches.
- After each of these, the project's open set is refreshed (``plugin.agreement.openset``): done
  sampled tasks make room for waiting ones, unless a gold copy waits for its target.
- A ``TASKS_CREATED`` the sync wrote (``"lsqa_origin": "sync"``: tasks no webhook announced) forms
  batches of its own (source ``sync``).
"""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from plugin.agreement.batches import (
    COMPUTE_JOB,
    OVERLAP_JOB,
    BatchPolicy,
    add_new_tasks,
    forget_tasks,
    gold_copy_ids,
    refresh_progress,
    task_ids_of_annotations,
)
from plugin.agreement.compute import ComputeSettings, compute_batch
from plugin.agreement.openset import (
    RAISE_JOB,
    concerns_open_set,
    projects_with_sample_in_flight,
    refresh_open_set,
    reopen_undone,
)
from plugin.agreement.overlap import OverlapSetter
from plugin.batch_facts import BatchFacts
from plugin.jobs import Job, finish_job
from plugin.records import Changes, TaskRecord
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.schema import annotations, users
from plugin.store.schema_agreement import agreement_tasks

log = logging.getLogger(__name__)
ANNOTATION_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED")


def batch_policy(settings: Settings) -> BatchPolicy:
    return BatchPolicy(
        mode=settings["agreement.batch_mode"],
        batch_size=settings["agreement.batch_size"],
        sample_rate=settings["agreement.sample_rate"],
        salt=settings["webhook.secret"],  # annotators cannot predict the sample
        max_open=settings["agreement.max_open_samples"],
    )


def compute_settings(settings: Settings) -> ComputeSettings:
    return ComputeSettings(
        kappa_threshold=settings["agreement.kappa_threshold"],
        n_resamples=settings["agreement.bootstrap"],
        min_items=settings["agreement.min_items"],
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
    if not settings["agreement.enabled"]:
        return
    facts = facts or BatchFacts()
    if action == "TASKS_CREATED":
        source = "sync" if changes.origin == "sync" else "import"  # recovered tasks: a batch of their own
        form_batches(conn, changes.tasks, batch_policy(settings), source, facts)
        facts.forget_tasks()  # some may be sampled now
        return
    if action in ANNOTATION_ACTIONS:
        # Only sampled tasks and gold copies count (most ratings are neither: no query).
        task_ids = facts.sampled_or_copies(
            conn, [a.task_id for a in changes.annotations if a.task_id is not None]
        )
        refresh_progress(conn, task_ids)
        if not concerns_open_set(conn, task_ids):
            return
    elif action == "ANNOTATIONS_DELETED":
        task_ids = task_ids_of_annotations(conn, changes.deleted_annotation_ids)
        refresh_progress(conn, task_ids)
        for project_id in projects_of(changes):
            reopen_undone(conn, project_id, task_ids)
    elif action == "TASKS_DELETED":
        forget_tasks(conn, changes.deleted_task_ids)
    else:
        return
    for project_id in projects_of(changes):  # done samples make room; an answered gold copy ends a hold
        refresh_open_set(conn, project_id, settings["agreement.max_open_samples"])


def projects_of(changes: Changes) -> list[int]:
    ids = {p.id for p in changes.projects}
    ids |= {a.project_id for a in changes.annotations if a.project_id is not None}
    return sorted(ids)


def refresh_open_sets(store: Store, settings: Settings) -> int:
    """Refresh every project's open set; returns how many sampled tasks were raised. For a caller
    outside the event path, e.g. after a sync brought ratings or answers no event announced."""
    if not settings["agreement.enabled"]:
        return 0
    with store.read() as conn:
        project_ids = projects_with_sample_in_flight(conn)
    raised = 0
    for project_id in project_ids:
        with store.begin() as conn:
            raised += refresh_open_set(conn, project_id, settings["agreement.max_open_samples"])
    return raised


def form_batches(
    conn: Connection,
    new_tasks: list[TaskRecord],
    policy: BatchPolicy,
    source: str = "import",
    facts: BatchFacts | None = None,
) -> list[int]:
    """Batches closed by these new tasks, per connected project."""
    by_project: dict[int, list[TaskRecord]] = {}
    for task in new_tasks:
        if task.project_id is not None:
            by_project.setdefault(task.project_id, []).append(task)
    closed = []
    facts = facts or BatchFacts()
    for project_id, tasks in sorted(by_project.items()):
        if not facts.connected_source(conn, project_id):  # never the relabel project
            continue
        copies = gold_copy_ids(conn, project_id, tasks)
        fresh = [t.id for t in tasks if t.id not in copies]
        closed += add_new_tasks(conn, project_id, fresh, policy, source)
    return closed


def job_handlers(
    store: Any, adapter_factory: Callable[[], Any], settings: Settings
) -> dict[str, Callable[[Job], None]]:
    """Handlers for the durable jobs this feature enqueues (``plugin.jobs``)."""
    setter = OverlapSetter(store, adapter_factory)
    return {
        OVERLAP_JOB: setter,
        RAISE_JOB: setter,
        COMPUTE_JOB: _computer(store, adapter_factory, compute_settings(settings)),
    }


def _computer(
    store: Store, adapter_factory: Callable[[], Any], settings: ComputeSettings
) -> Callable[[Job], None]:
    def compute(job: Job) -> None:
        batch_id = int(job.payload["batch_id"])
        learn_annotator_names(store, adapter_factory, batch_id)
        try:
            compute_batch(store, batch_id, settings, job_id=job.id)
        except LookupError as exc:  # the batch is gone: nothing to compute
            with store.begin() as conn:
                finish_job(conn, job.id, "failed", str(exc))

    return compute


def learn_annotator_names(store: Store, adapter_factory: Callable[[], Any], batch_id: int) -> None:
    """Alerts name annotators by e-mail: fetch the users if the sample's annotators are unknown
    (best effort; without Label Studio the alert names user ids)."""
    from plugin.labelstudio import LabelStudioError
    from plugin.sync import save_users

    sampled = select(agreement_tasks.c.task_id).where(
        agreement_tasks.c.batch_id == batch_id, agreement_tasks.c.sampled.is_(True)
    )
    people = select(annotations.c.annotator_id).where(
        annotations.c.task_id.in_(sampled), annotations.c.was_cancelled.is_(False)
    )
    with store.read() as conn:
        unknown = conn.execute(
            people.where(annotations.c.annotator_id.not_in(select(users.c.id))).limit(1)
        ).first()
    if unknown is None:
        return
    try:
        found = adapter_factory().list_users()
    except LabelStudioError as exc:
        log.warning("batch %d: annotator names unavailable: %s", batch_id, exc)
        return
    with store.begin() as conn:
        save_users(conn, found)
