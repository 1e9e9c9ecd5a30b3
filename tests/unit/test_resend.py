"""Finding what an earlier import brought into Label Studio, page by page (plugin.resend)."""

import json
from datetime import UTC, datetime

import pytest

from plugin.labelstudio import LabelStudioError
from plugin.resend import MARKER_PAGE, MARKER_PAGES, find_marked_task, find_marked_tasks


class TaskPages:
    """The Data Manager's task list, newest first, as the adapter's ``_request`` answers it."""

    def __init__(self, metas: list[dict]) -> None:
        self.tasks = [{"id": n, "meta": meta} for n, meta in enumerate(metas, start=1)][::-1]
        self.calls: list[dict] = []

    def __call__(self, method, path, *, params):
        assert (method, path) == ("GET", "api/tasks/")
        self.calls.append(params)
        start = (params["page"] - 1) * params["page_size"]
        if start and start >= len(self.tasks):
            raise LabelStudioError("page not found", 404)
        return {"tasks": self.tasks[start : start + params["page_size"]]}


def test_find_marked_tasks_pages_until_every_value_is_found():
    metas = [{"item": 1}, {"item": 2}, {"item": 1}] + [{}] * (2 * MARKER_PAGE) + [{"item": [3]}]
    pages = TaskPages(metas)
    found = find_marked_tasks(pages, 5, "item", [1, 2, 3], None)
    assert {value: task["id"] for value, task in found.items()} == {1: 3, 2: 2}  # the newest of each
    assert len(pages.calls) == 3  # to the last page; 3 is nowhere (a list value is not 3)
    assert json.loads(pages.calls[0]["query"])["filters"]["items"] == []


def test_find_marked_tasks_stops_when_all_are_found_and_filters_on_creation_time():
    pages = TaskPages([{}] * (3 * MARKER_PAGE) + [{"item": 7}])
    since = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert {v: t["id"] for v, t in find_marked_tasks(pages, 5, "item", [7], since).items()} == {7: 301}
    assert len(pages.calls) == 1
    (created,) = json.loads(pages.calls[0]["query"])["filters"]["items"]
    assert (created["filter"], created["value"]) == ("filter:tasks:created_at", "2026-05-01T11:50:00.000000Z")


def test_find_marked_tasks_asks_nothing_for_no_values_and_gives_up_after_the_last_page():
    pages = TaskPages([{}] * (MARKER_PAGES * MARKER_PAGE + 1) + [{"item": 1}])
    assert find_marked_tasks(pages, 5, "item", [], None) == {} and pages.calls == []
    assert find_marked_tasks(pages, 5, "item", [2], None) == {}
    assert len(pages.calls) == MARKER_PAGES


def test_find_marked_task_is_the_lookup_of_one_create_marker():
    pages = TaskPages([{"lsqa_create": "abc"}, {"lsqa_create": "def"}])
    assert find_marked_task(pages, 5, "abc", None)["id"] == 1
    assert find_marked_task(pages, 5, "zzz", None) is None


def test_a_failed_page_is_not_taken_for_the_end():
    def down(method, path, *, params):
        raise LabelStudioError("Label Studio is down", 503)

    with pytest.raises(LabelStudioError):
        find_marked_tasks(down, 5, "item", [1], None)
