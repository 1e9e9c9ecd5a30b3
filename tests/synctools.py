"""A fake of the Label Studio listings the sync uses, over tasks held in memory."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.labelstudio import LabelStudioError, TaskPage


class FakeProjectListing:
    """Tasks with annotations; every change moves the task's ``updated_at`` as Label Studio does."""

    def __init__(self, project_id: int = 1, first_id: int = 1) -> None:
        self.project_id = project_id
        self.tasks: dict[int, dict[str, Any]] = {}
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.ids = itertools.count(first_id)
        self.calls: list[str] = []
        self.down = False

    def get_project(self, project_id: int) -> None:
        """No project details in this fake: the pass then leaves the project row as it is."""
        return None

    def _tick(self) -> str:
        self.clock += timedelta(milliseconds=1)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add_task(self, text: str = "t") -> dict[str, Any]:
        task_id = next(self.ids)
        stamp = self._tick()
        task = {
            "id": task_id,
            "project": self.project_id,
            "data": {"text": text},
            "meta": {},
            "inner_id": task_id,
            "created_at": stamp,
            "updated_at": stamp,
            "is_labeled": False,
            "overlap": 1,
            "annotations": [],
        }
        self.tasks[task_id] = task
        return task

    def annotate(
        self, task_id: int, user: int, result: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        stamp = self._tick()
        annotation = {
            "id": next(self.ids) + 100_000,
            "task": task_id,
            "project": self.project_id,
            "completed_by": user,
            "result": result,
            "lead_time": 1.0,
            "was_cancelled": False,
            "ground_truth": False,
            "created_at": stamp,
            "updated_at": stamp,
            **fields,
        }
        self.tasks[task_id]["annotations"].append(annotation)
        self.tasks[task_id]["updated_at"] = stamp
        return annotation

    def update_annotation(self, annotation_id: int, **fields: Any) -> None:
        for task in self.tasks.values():
            for annotation in task["annotations"]:
                if annotation["id"] == annotation_id:
                    annotation.update(fields, updated_at=self._tick())
                    task["updated_at"] = annotation["updated_at"]

    def delete_annotation(self, annotation_id: int) -> None:
        for task in self.tasks.values():
            kept = [a for a in task["annotations"] if a["id"] != annotation_id]
            if len(kept) != len(task["annotations"]):
                task["annotations"] = kept
                task["updated_at"] = self._tick()

    # -- the adapter's verbs ----------------------------------------------------------------------------

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise LabelStudioError("cannot reach Label Studio (fake outage)")

    def list_users(self) -> list[dict[str, Any]]:
        self._check("list_users")
        return []

    def newest_task_change(self, project_id: int) -> str | None:
        self._check("newest_task_change")
        return max((t["updated_at"] for t in self.tasks.values()), default=None)

    def tasks_after(self, project_id: int, after_id: int, page_size: int) -> TaskPage:
        self._check("tasks_after")
        found = sorted((t for t in self.tasks.values() if t["id"] > after_id), key=lambda t: t["id"])
        return TaskPage([_copy(t) for t in found[:page_size]], len(found))

    def tasks_changed_after(self, project_id: int, since: str, page_size: int) -> TaskPage:
        self._check("tasks_changed_after")
        found = sorted(
            (t for t in self.tasks.values() if t["updated_at"] > since), key=lambda t: t["updated_at"]
        )
        return TaskPage([_copy(t) for t in found[:page_size]], len(found))

    def tasks_changed_at(self, project_id: int, at: str, after_id: int, page_size: int) -> TaskPage:
        self._check("tasks_changed_at")
        found = sorted(
            (t for t in self.tasks.values() if t["updated_at"] == at and t["id"] > after_id),
            key=lambda t: t["id"],
        )
        return TaskPage([_copy(t) for t in found[:page_size]], len(found))


def _copy(task: dict[str, Any]) -> dict[str, Any]:
    return {**task, "annotations": [dict(a) for a in task["annotations"]]}


class FakeListings:
    """Several projects' listings behind one adapter: each call goes to its project's listing."""

    def __init__(self, *listings: FakeProjectListing) -> None:
        self.by_project = {listing.project_id: listing for listing in listings}

    def list_users(self) -> list[dict[str, Any]]:
        return []

    def server_time(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        def call(project_id: int, *args: Any) -> Any:
            return getattr(self.by_project[project_id], name)(project_id, *args)

        return call
