"""One pass of the sync over one project, one page of Label Studio per :meth:`ProjectPass.step`.

Kinds of pass (``docs/sync.md``):

* ``baseline``: the first pass of a source project. What is already there is history from before the
  service knew the project: it is written as it is, in pages, with no reactions.
* ``full``: every task in id order, page by page; differences become events, and tasks of the store
  missing from an id range Label Studio has listed are deleted ones.
* ``incremental``: only tasks whose ``updated_at`` moved since the last pass (creating, updating or
  deleting an annotation moves its task's ``updated_at``).

A step first lets every inbox event received so far be processed (``watermark``): the store then
holds everything live events said, and events received after the watermark outrank the page, so
what they touch is left to them. The position is saved after each page, fenced on the lease, so a
pass taken over by another worker resumes where this one stopped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.events import parse_annotation, parse_project, parse_task, parse_time
from plugin.labelstudio import LabelStudioAdapter, TaskPage
from plugin.records import Changes
from plugin.store import Store
from plugin.store.domain import apply_changes, delete_tasks, sync_seq, upsert_project
from plugin.store.inbox import append_events, max_event_id
from plugin.store.sync_rows import (
    inbox_bodies_after,
    live_task_ids_between,
    processed_up_to,
    stored_annotations,
    stored_tasks,
)
from plugin.store.sync_state import SyncState, mark_project_synced, save_sync_state, save_users
from plugin.sync.recovered import PageDiff, Touched, diff_page

log = logging.getLogger(__name__)

EPOCH = "1970-01-01T00:00:00.000000Z"
# Label Studio stamps updated_at before its transaction commits: a change committed a little after
# a later one was listed would fall behind the cursor. The next pass looks this far back as well.
LOOK_BACK = timedelta(seconds=60)


class LeaseLost(RuntimeError):
    """Another worker took this project's sync over (this one had stopped renewing its lease)."""


@dataclass
class PassProgress:
    kind: str
    done: int = 0
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    waiting: bool = False  # the last step waited for earlier events to be processed


class ProjectPass:
    """A pass of ``kind`` over ``project_id``; the caller holds the lease as ``holder``."""

    def __init__(
        self,
        store: Store,
        adapter: LabelStudioAdapter,
        state: SyncState,
        holder: str,
        page_size: int,
    ) -> None:
        self.store, self.adapter, self.holder, self.page_size = store, adapter, holder, page_size
        self.project_id = state.project_id
        self.kind = state.pass_kind or "incremental"
        self.position: dict[str, Any] = dict(state.pass_position or {})
        self.clock = self.position.pop("clock", None)  # Label Studio's time when the pass began
        self.started_at = state.pass_started_at or datetime.now(UTC)
        self.changed_since = state.changed_since
        self.progress = PassProgress(
            self.kind, state.pass_done, state.pass_total, dict(state.pass_counts or {})
        )

    @classmethod
    def begin(
        cls,
        store: Store,
        adapter: LabelStudioAdapter,
        state: SyncState,
        kind: str,
        holder: str,
        page_size: int,
    ) -> ProjectPass:
        """Start a new pass (the lease is held): record its kind and starting position."""
        now = datetime.now(UTC)
        if kind == "incremental":
            since = parse_time(state.changed_since or EPOCH) or datetime.fromtimestamp(0, UTC)
            position: dict[str, Any] = {"since": _stamp(since - LOOK_BACK)}
        else:
            position = {"after_id": 0, "newest": adapter.newest_task_change(state.project_id)}
        values = {
            "pass_kind": kind,
            "pass_position": position,
            "pass_started_at": now,
            "pass_done": 0,
            "pass_total": None,
            "pass_counts": {},
        }
        people = adapter.list_users()
        # The project itself (label config, model_version, title): a PROJECT_UPDATED missed during an
        # outage is recovered here, and a project synced before `connect` becomes known.
        project = adapter.get_project(state.project_id) if hasattr(adapter, "get_project") else None
        clock = getattr(adapter, "server_time", lambda: None)()
        position["clock"] = _stamp(clock) if clock else None
        if project is not None:
            with store.inbox_read() as conn:
                seq = sync_seq(max_event_id(conn))
        with store.begin() as conn:
            if not save_sync_state(conn, state.project_id, holder, **values):
                raise LeaseLost(f"project {state.project_id}: lease lost before the pass began")
            save_users(conn, people)
            if project is not None:
                upsert_project(conn, parse_project(project), seq)
        fresh = SyncState(**{**state.__dict__, **values})
        return cls(store, adapter, fresh, holder, page_size)

    # -- one step -------------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Sync one page; True once the pass is over. Does nothing (and says not over) while events
        received before it are still waiting to be processed."""
        with self.store.inbox_read() as conn:
            watermark = max_event_id(conn)
            ready = processed_up_to(conn, watermark)
        self.progress.waiting = not ready
        if not ready:
            return False
        if self.kind == "incremental":
            page, over = self._incremental_page()
            vanished: set[int] = set()
        else:
            page, over, vanished = self._id_page(watermark)
        diff = self._record(page, vanished, watermark)
        for action, n in diff.counts.items():
            self.progress.counts[action] = self.progress.counts.get(action, 0) + n
        if len(diff.edited_tasks):
            self.progress.counts["tasks_edited"] = self.progress.counts.get("tasks_edited", 0) + len(
                diff.edited_tasks
            )
        self._save(over)
        return over

    def _id_page(self, watermark: int) -> tuple[list[dict[str, Any]], bool, set[int]]:
        after = int(self.position["after_id"])
        answer = self.adapter.tasks_after(self.project_id, after, self.page_size)
        over = len(answer.tasks) < self.page_size
        upto = None if over else answer.tasks[-1]["id"]
        with self.store.read() as conn:
            known = live_task_ids_between(conn, self.project_id, after, upto)
        vanished = known - {t["id"] for t in answer.tasks}
        if not over:
            self.position["after_id"] = upto
        self._count(answer)
        return answer.tasks, over, vanished

    def _incremental_page(self) -> tuple[list[dict[str, Any]], bool]:
        tie = self.position.get("tie")
        if tie:  # a page-wide group of tasks sharing one updated_at, walked in id order
            answer = self.adapter.tasks_changed_at(
                self.project_id, tie["at"], tie["after_id"], self.page_size
            )
            self._count(answer)
            if len(answer.tasks) < self.page_size:
                self.position = {"since": tie["at"]}
            else:
                tie["after_id"] = answer.tasks[-1]["id"]
            return answer.tasks, False
        answer = self.adapter.tasks_changed_after(self.project_id, self.position["since"], self.page_size)
        self._count(answer)
        if len(answer.tasks) < self.page_size:
            if answer.tasks:
                self.position["since"] = answer.tasks[-1]["updated_at"]
            return answer.tasks, True
        last = answer.tasks[-1]["updated_at"]
        before = [t for t in answer.tasks if t["updated_at"] != last]
        if not before:
            self.position = {"since": self.position["since"], "tie": {"at": last, "after_id": 0}}
            return [], False
        # The last timestamp's group may go on past the page: it comes whole with the next page.
        self.position["since"] = before[-1]["updated_at"]
        return before, False

    def _count(self, answer: TaskPage) -> None:
        self.progress.done += len(answer.tasks)
        self.progress.total = self.progress.done + max(answer.total - len(answer.tasks), 0)
        if answer.tasks:
            newest = max(
                (t["updated_at"] for t in answer.tasks if t.get("updated_at")), default=None, key=_key
            )
            if newest and (self.changed_since is None or _key(newest) > _key(self.changed_since)):
                self.changed_since = newest

    # -- writing what the page says -------------------------------------------------------------------------

    def _record(self, page: list[dict[str, Any]], vanished: set[int], watermark: int) -> PageDiff:
        seq = sync_seq(watermark)
        if self.kind == "baseline":
            self._write_as_is(page, vanished, seq)
            return PageDiff(counts={"tasks_recorded": len(page)})
        task_ids = [t["id"] for t in page]
        annotation_ids = [a["id"] for t in page for a in t.get("annotations") or []]
        with self.store.read() as conn:
            tasks_in_store = stored_tasks(conn, task_ids)
            annotations_in_store = stored_annotations(conn, task_ids, annotation_ids)
        with self.store.inbox_begin() as conn:  # what arrived meanwhile, and the new events, at once
            touched = Touched()
            for action, body in inbox_bodies_after(conn, watermark, self.project_id):
                touched.add_body(action, _loads(body))
            diff = diff_page(self.project_id, page, tasks_in_store, annotations_in_store, touched, vanished)
            if diff.events:
                append_events(conn, diff.events)
        if diff.edited_tasks:
            edits = Changes(tasks=[parse_task(t, self.project_id) for t in diff.edited_tasks])
            with self.store.begin() as conn:
                apply_changes(conn, edits, seq)
        return diff

    def _write_as_is(self, page: list[dict[str, Any]], vanished: set[int], seq: int) -> None:
        changes = Changes()
        for task in page:
            changes.tasks.append(parse_task(task, self.project_id))
            changes.annotations.extend(
                parse_annotation(a, self.project_id) for a in task.get("annotations") or []
            )
        with self.store.begin() as conn:
            apply_changes(conn, changes, seq)
            delete_tasks(conn, sorted(vanished), seq)

    def _save(self, over: bool) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "pass_position": {**self.position, "clock": self.clock},
            "pass_done": self.progress.done,
            "pass_total": self.progress.total,
            "pass_counts": dict(self.progress.counts),
        }
        if over:
            values.update(self._finish_values())
        with self.store.begin() as conn:
            if not save_sync_state(conn, self.project_id, self.holder, **values):
                raise LeaseLost(f"project {self.project_id}: lease lost during a {self.kind} pass")
            if over:
                mark_project_synced(conn, self.project_id, now)

    def _finish_values(self) -> dict[str, Any]:
        newest = self.position.get("newest") if self.kind != "incremental" else None
        # Whatever was committed before the pass began has been read: the next pass starts from
        # there (less LOOK_BACK), not from the newest stamp, which may lie long before.
        stamps = (self.changed_since, newest, self.clock)
        changed = max((s for s in stamps if s), key=_key, default=None)
        values: dict[str, Any] = {
            "pass_kind": None,
            "pass_position": None,
            "changed_since": changed,
            "last_report": {"kind": self.kind, "tasks": self.progress.done, **self.progress.counts},
            "last_incremental_at": self.started_at,
        }
        if self.kind != "incremental":
            values["last_full_at"] = self.started_at
        return values


def _key(stamp: str) -> datetime:
    return parse_time(stamp) or datetime.fromtimestamp(0, UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _loads(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
