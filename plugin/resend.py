"""Finding what an earlier attempt of a create already made in Label Studio (see plugin.attempts).

Used by the adapter (plugin.labelstudio) before it re-sends a call that is not idempotent, and
for the ``Retry-After`` header of a refused call.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

MARKER_KEY = "lsqa_create"  # meta key naming a task we create, until the creation is confirmed
MARKER_PAGES, MARKER_PAGE = 20, 100  # newest task pages searched for a marker, tasks per page
MARKER_CLOCK_MARGIN = timedelta(minutes=10)  # for the clocks of two hosts


def find_marked_task(
    request: Callable[..., Any], project_id: int, marker: str, since: datetime | None
) -> dict[str, Any] | None:
    """The task of this project carrying ``marker`` in its meta, newest first, created since
    ``since``; ``request`` is the adapter's ``_request``."""
    return find_marked_tasks(request, project_id, MARKER_KEY, [marker], since).get(marker)


def find_marked_tasks(
    request: Callable[..., Any], project_id: int, key: str, values: Iterable[Any], since: datetime | None
) -> dict[Any, dict[str, Any]]:
    """``{value: task}`` for the tasks of this project whose ``meta[key]`` is one of ``values`` (the
    newest such task of each), among the newest :data:`MARKER_PAGES` pages of tasks created since
    ``since``; values not found are left out."""
    from plugin.labelstudio import LabelStudioError

    wanted = set(values)
    found: dict[Any, dict[str, Any]] = {}
    items = []
    if since is not None:
        # The only form the Data Manager accepts (1.23.2 answers 500 to an ISO offset: measured).
        after = (since - MARKER_CLOCK_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        items.append(
            {"filter": "filter:tasks:created_at", "operator": "greater", "type": "Datetime", "value": after}
        )
    query = json.dumps({"filters": {"conjunction": "and", "items": items}, "ordering": ["-tasks:id"]})
    for page in range(1, MARKER_PAGES + 1):
        if len(found) == len(wanted):
            break
        params = {"project": int(project_id), "fields": "task_only", "page": page, "page_size": MARKER_PAGE}
        try:
            tasks = request("GET", "api/tasks/", params={**params, "query": query})["tasks"]
        except LabelStudioError as exc:
            if exc.status == 404:  # past the last page
                break
            raise
        for task in tasks:
            value = (task.get("meta") or {}).get(key)
            if isinstance(value, str | int) and value in wanted and value not in found:
                found[value] = dict(task)
        if len(tasks) < MARKER_PAGE:
            break
    return found


def same_annotation(
    annotation: dict[str, Any], completed_by: int, result: list[dict[str, Any]], was_cancelled: bool
) -> bool:
    """Whether ``annotation`` (plain, see the adapter) is the one a create with these values makes."""
    return (
        annotation["completed_by"] == completed_by
        and bool(annotation["was_cancelled"]) == was_cancelled
        and (annotation["result"] or []) == result
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
