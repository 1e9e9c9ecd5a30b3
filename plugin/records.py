"""Domain records: Label Studio JSON is converted into these once, at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    title: str | None = None
    label_config: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskRecord:
    id: int
    project_id: int | None
    data: dict[str, Any]
    meta: dict[str, Any]
    inner_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AnnotationRecord:
    id: int
    project_id: int | None
    task_id: int | None
    annotator_id: int | None
    result: list[dict[str, Any]]
    lead_time: float | None
    was_cancelled: bool
    ground_truth: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Changes:
    """What one event (or one reconciliation) says about the world."""

    projects: list[ProjectRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    annotations: list[AnnotationRecord] = field(default_factory=list)
    deleted_task_ids: list[int] = field(default_factory=list)
    deleted_annotation_ids: list[int] = field(default_factory=list)
    origin: str | None = None  # "sync": written by the service's sync, not sent by Label Studio

    def size(self) -> int:
        return (
            len(self.tasks)
            + len(self.annotations)
            + len(self.deleted_task_ids)
            + len(self.deleted_annotation_ids)
        )

    def split(self, max_rows: int) -> list[Changes]:
        """Pieces of at most ``max_rows`` rows each, projects in the first; applying them in
        order has the same effect as applying the whole."""
        if self.size() <= max_rows:
            return [self]
        pieces: list[Changes] = []
        for name in ("tasks", "annotations", "deleted_task_ids", "deleted_annotation_ids"):
            items = getattr(self, name)
            for start in range(0, len(items), max_rows):
                pieces.append(Changes(**{name: items[start : start + max_rows]}))
        pieces[0].projects = list(self.projects)
        return pieces
