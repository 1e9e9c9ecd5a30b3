"""Worker hooks of this feature (placeholder: filled in by the feature's own work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from plugin.jobs import Job
from plugin.records import Changes
from plugin.settings import Settings


def react_to_event(
    conn: Connection, action: str, changes: Changes, settings: Settings, event_id: int
) -> None:
    """Called by the worker in the event's transaction, after the domain rows are written."""


def job_handlers(
    store: Any, adapter_factory: Callable[[], Any], settings: Settings
) -> dict[str, Callable[[Job], None]]:
    """Handlers for the durable jobs this feature enqueues (``plugin.jobs``)."""
    return {}
