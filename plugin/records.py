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
