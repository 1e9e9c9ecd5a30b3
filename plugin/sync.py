"""Reconcile the store with Label Studio: Label Studio never redelivers a webhook, so whatever
arrived while we were down (or was sent only to org-wide hooks, like delete-all) is recovered here.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from plugin.events import parse_annotation, parse_project, parse_task
from plugin.labelstudio import LabelStudioAdapter
from plugin.records import Changes
from plugin.store import Store
from plugin.store.dialect import insert
from plugin.store.domain import (
    apply_changes,
    delete_annotations,
    delete_tasks,
    live_ids,
    sync_seq,
    upsert_project,
)
from plugin.store.inbox import max_event_id
from plugin.store.schema import annotations, tasks, users


@dataclass(frozen=True)
class SyncReport:
    project_id: int
    tasks: int
    annotations: int
    added_tasks: int
    added_annotations: int
    removed_tasks: int
    removed_annotations: int

    def describe(self) -> str:
        return (
            f"project {self.project_id}: {self.tasks} tasks, {self.annotations} annotations in Label Studio; "
            f"added {self.added_tasks} tasks and {self.added_annotations} annotations, "
            f"removed {self.removed_tasks} tasks and {self.removed_annotations} annotations"
        )


def fetch_project_changes(adapter: LabelStudioAdapter, project_id: int) -> Changes:
    changes = Changes(projects=[parse_project(adapter.get_project(project_id))])
    for task in adapter.iter_tasks(project_id):
        changes.tasks.append(parse_task(task, project_id))
        changes.annotations.extend(parse_annotation(a, project_id) for a in task.get("annotations") or [])
    return changes


def sync_project(store: Store, adapter: LabelStudioAdapter, project_id: int) -> SyncReport:
    # Everything already in the inbox happened before this read of Label Studio, so the
    # snapshot outranks it; events that arrive from now on outrank the snapshot.
    with store.inbox_read() as conn:
        seq = sync_seq(max_event_id(conn))
    changes = fetch_project_changes(adapter, project_id)
    people = adapter.list_users()
    task_ids = {t.id for t in changes.tasks}
    annotation_ids = {a.id for a in changes.annotations}
    with store.begin() as conn:
        known_tasks = live_ids(conn, tasks, project_id)
        known_annotations = live_ids(conn, annotations, project_id)
        apply_changes(conn, changes, seq)
        upsert_project(conn, changes.projects[0], seq, synced_at=datetime.now(UTC))
        delete_tasks(conn, sorted(known_tasks - task_ids), seq)
        delete_annotations(conn, sorted(known_annotations - annotation_ids), seq)
        save_users(conn, people)
    return SyncReport(
        project_id=project_id,
        tasks=len(task_ids),
        annotations=len(annotation_ids),
        added_tasks=len(task_ids - known_tasks),
        added_annotations=len(annotation_ids - known_annotations),
        removed_tasks=len(known_tasks - task_ids),
        removed_annotations=len(known_annotations - annotation_ids),
    )


def save_users(conn, people: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for person in people:
        stmt = insert(conn, users).values(
            id=person["id"],
            email=person.get("email"),
            username=person.get("username"),
            first_name=person.get("first_name"),
            last_name=person.get("last_name"),
        )
        synced = ("email", "username", "first_name", "last_name")
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["id"], set_={c: stmt.excluded[c] for c in synced})
        )
