"""The one module of the service that talks to Label Studio.

Built on ``label_studio_sdk.LabelStudio`` (2.x) for what the SDK does well: authentication (a Personal
Access Token is swapped for short-lived Bearer tokens and refreshed behind a lock; any non-JWT key is sent
as a legacy ``Token``, see ``label-studio-notes.md`` §0), base URL handling, timeouts, and retries of
connection errors and 5xx (not for POSTs, which create things). Requests go through the SDK's own HTTP
client and answers stay Label Studio's plain JSON: the rest of the service parses exactly that JSON (the
same shapes arrive in webhook bodies), while the SDK's typed models would re-type fields such as timestamps.

Every failure -- unreachable server, timeout, bad key, unknown id, server error -- becomes one
:class:`LabelStudioError` whose message is a single line and never contains the API key, and which
says whether trying again can help (``retryable``) and whether the call may have taken effect
(``maybe_applied``). Inside a job (plugin.attempts), a retried create first looks for what the
earlier attempt made (docs/alerts.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from plugin.attempts import current_attempt
from plugin.logs import mask_url_password
from plugin.resend import (
    MARKER_KEY,
    find_marked_task,
    find_marked_tasks,
    retry_after_seconds,
    same_annotation,
)

TASK_FIELDS = (
    "id",
    "project",
    "data",
    "meta",
    "inner_id",
    "created_at",
    "updated_at",
    "is_labeled",
    "overlap",
)
ANNOTATION_FIELDS = (
    "id",
    "task",
    "project",
    "completed_by",
    "result",
    "lead_time",
    "was_cancelled",
    "ground_truth",
    "created_at",
    "updated_at",
)
_BODY_LIMIT = 200
RETRYABLE_STATUSES = frozenset({408, 429})  # and every 5xx


class LabelStudioError(Exception):
    """A call to Label Studio failed. ``status`` is the HTTP status, or None if no answer came back.

    ``retryable``: worth trying again later -- no answer (connection error, timeout), 408, 429 or a
    5xx; any other 4xx is ``final`` (asking again gets the same answer). ``retry_after``: seconds
    Label Studio asked us to wait (``Retry-After``), if it said. ``maybe_applied``: the request may
    have reached Label Studio and taken effect although no success came back (a timeout or a dropped
    connection after sending, a 5xx): a non-idempotent call must be checked before it is sent again.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES or self.status >= 500

    @property
    def final(self) -> bool:
        return not self.retryable


@dataclass(frozen=True)
class TaskPage:
    """A page of the Data Manager's task list; ``total`` counts every task the filter matches."""

    tasks: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class ServerInfo:
    version: str
    edition: str  # "Community" or "Enterprise"


class LabelStudioAdapter:
    """Label Studio's API as the verbs the service needs, returning plain dicts."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0, max_retries: int = 1) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        try:
            self._client = LabelStudio(
                base_url=self.url,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
                httpx_client=self._http,
            )
        except ApiError as exc:  # an expired or exp-less PAT is rejected before any request is made
            self._http.close()
            raise LabelStudioError(
                f"Label Studio API key rejected: {_short_body(exc.body)}", exc.status_code
            ) from exc

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LabelStudioAdapter:
        """The adapter the ``label_studio.*`` settings describe."""
        return cls(
            settings["label_studio.url"],
            settings["label_studio.api_key"],
            timeout=settings["label_studio.timeout"],
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelStudioAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        answer = self._request("GET", "api/version")
        return ServerInfo(
            version=str(answer.get("release", "")), edition=str(answer.get("edition") or "Community")
        )

    def whoami(self) -> dict[str, Any]:
        return dict(self._request("GET", "api/current-user/whoami"))

    def get_project(self, project_id: int) -> dict[str, Any]:
        """The project as Label Studio returns it (label_config, sampling, maximum_annotations, ...)."""
        return dict(self._request("GET", f"api/projects/{int(project_id)}/"))

    def list_projects(self, limit: int = 20) -> list[dict[str, Any]]:
        """The first ``limit`` projects the caller can see (id, title, ...), newest first."""
        answer = self._request("GET", "api/projects/", params={"page_size": int(limit), "ordering": "-id"})
        return list(answer.get("results") or []) if isinstance(answer, dict) else list(answer or [])

    def list_users(self) -> list[dict[str, Any]]:
        """Users of the caller's organization (id, email, username, ...)."""
        return list(self._request("GET", "api/users/"))

    def iter_tasks(self, project_id: int, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every task of the project with all its annotations, skipped (cancelled) ones included.

        Uses the Data Manager task list (``GET /api/tasks/?fields=all``), the only list endpoint
        that returns ``is_labeled``, ``overlap`` and annotations together (~6 ms per task on 1.23.2,
        SQLite). Pages are keyset pages (``id > last id``, ordered by id) rather than page numbers,
        so tasks created or deleted while we read cannot shift a page boundary and make us miss a
        task -- a missed task would look deleted to the sync.
        """
        for task in self._task_pages(project_id, page_size):
            yield _plain_task(task)

    def iter_predictions(self, project_id: int, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every prediction of the project, page by page (the tasks' ``predictions`` in the Data
        Manager list; ``GET /api/predictions/`` has no pages and answers everything at once)."""
        for task in self._task_pages(project_id, page_size):
            for prediction in task.get("predictions") or []:
                yield {**prediction, "task": prediction.get("task") or task["id"]}

    def _task_pages(self, project_id: int, page_size: int) -> Iterator[dict[str, Any]]:
        """Raw Data Manager tasks in keyset pages (see :meth:`iter_tasks`)."""
        last_id = 0
        while True:
            query = {
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {
                            "filter": "filter:tasks:id",
                            "operator": "greater",
                            "type": "Number",
                            "value": last_id,
                        }
                    ],
                },
                "ordering": ["tasks:id"],
            }
            params = {"project": int(project_id), "fields": "all", "page": 1, "page_size": page_size}
            page = self._request("GET", "api/tasks/", params={**params, "query": json.dumps(query)})["tasks"]
            yield from page
            if len(page) < page_size:
                return
            last_id = int(page[-1]["id"])

    # -- listings for the sync (plugin.sync) --------------------------------------------------------------

    def tasks_after(self, project_id: int, after_id: int, page_size: int) -> TaskPage:
        """One keyset page of the project's tasks with all their annotations: ids above ``after_id``,
        in id order (see :meth:`iter_tasks` for why keyset pages)."""
        query = _dm_query([_dm_filter("id", "greater", "Number", int(after_id))], "tasks:id")
        return self._task_page(project_id, query, page_size)

    def tasks_changed_after(self, project_id: int, since: str, page_size: int) -> TaskPage:
        """Tasks whose ``updated_at`` is later than ``since`` (Label Studio's own format, as it
        returns it), oldest change first, with all their annotations.

        The Data Manager orders by one field only (``ordering[0]``, source: data_manager/managers.py),
        so tasks that share a timestamp come in no fixed order: callers page on the timestamp and
        fetch a page-wide group of equal timestamps with :meth:`tasks_changed_at`."""
        query = _dm_query(
            [_dm_filter("updated_at", "greater", "Datetime", _dm_time(since))], "tasks:updated_at"
        )
        return self._task_page(project_id, query, page_size)

    def tasks_changed_at(self, project_id: int, at: str, after_id: int, page_size: int) -> TaskPage:
        """Tasks whose ``updated_at`` is exactly ``at``, ids above ``after_id``, in id order."""
        stamp = _dm_time(at)
        filters = [
            _dm_filter("updated_at", "in", "Datetime", {"min": stamp, "max": stamp}),
            _dm_filter("id", "greater", "Number", int(after_id)),
        ]
        return self._task_page(project_id, _dm_query(filters, "tasks:id"), page_size)

    def newest_task_change(self, project_id: int) -> str | None:
        """The latest ``updated_at`` among the project's tasks (None for an empty project)."""
        page = self._task_page(project_id, _dm_query([], "-tasks:updated_at"), 1, fields="task_only")
        return page.tasks[0]["updated_at"] if page.tasks else None

    def server_time(self) -> datetime | None:
        """Label Studio's clock at its last answer (the HTTP ``Date`` header, to the second)."""
        date = getattr(self, "_server_date", None)
        try:
            return parsedate_to_datetime(date).astimezone(UTC) if date else None
        except (TypeError, ValueError):
            return None

    def _task_page(
        self, project_id: int, query: dict[str, Any], page_size: int, fields: str = "all"
    ) -> TaskPage:
        params = {"project": int(project_id), "fields": fields, "page": 1, "page_size": int(page_size)}
        answer = self._request("GET", "api/tasks/", params={**params, "query": json.dumps(query)})
        return TaskPage([_plain_task(t) for t in answer["tasks"]], int(answer.get("total") or 0))

    # -- webhooks --------------------------------------------------------------------------------------------

    def list_webhooks(self, project_id: int) -> list[dict[str, Any]]:
        hooks = self._request("GET", "api/webhooks/", params={"project": int(project_id)})
        # The filter is applied by the server; re-check so an org-wide hook is never mistaken for ours.
        return [hook for hook in hooks if hook.get("project") == int(project_id)]

    def create_webhook(
        self, project_id: int, *, url: str, headers: dict[str, str], actions: list[str]
    ) -> dict[str, Any]:
        body = {
            "project": int(project_id),
            "url": url,
            "headers": headers,
            "actions": actions,
            "send_payload": True,
            "send_for_all_actions": False,
            "is_active": True,
        }
        return dict(self._request("POST", "api/webhooks/", json=body))

    def update_webhook(self, webhook_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH a webhook. Pass ``actions`` every time: Label Studio 1.23 empties the list when a
        PATCH leaves it out (measured: a URL-only PATCH left ``actions == []``)."""
        return dict(self._request("PATCH", f"api/webhooks/{int(webhook_id)}/", json=fields))

    def delete_webhook(self, webhook_id: int) -> None:
        self._request("DELETE", f"api/webhooks/{int(webhook_id)}/")

    # -- writes for hidden gold ----------------------------------------------------------------------------

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return dict(self._request("PATCH", f"api/projects/{int(project_id)}/", json=fields))

    def create_task(self, project_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """A new task with exactly this data (``POST /api/tasks/``, which never reuses an id).

        Inside a job, the task is created with a marker in ``meta`` that a retry of the job looks
        for first, so a lost answer never makes a second task; the marker is then removed, because
        task meta reaches annotators' browsers (notes §5) and a gold copy must look like any task.
        """
        attempt = current_attempt()
        if attempt is None:
            return dict(self._request("POST", "api/tasks/", json={"project": int(project_id), "data": data}))
        marker = attempt.marker("task", int(project_id), data)
        task = (
            find_marked_task(self._request, project_id, marker, attempt.since) if attempt.is_retry else None
        )
        if task is None:
            body = {"project": int(project_id), "data": data, "meta": {MARKER_KEY: marker}}
            task = dict(self._request("POST", "api/tasks/", json=body))
        return dict(self._request("PATCH", f"api/tasks/{int(task['id'])}/", json={"meta": {}}))

    def update_task(self, task_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH the task; Label Studio answers with the whole task, its ``annotations`` included."""
        return dict(self._request("PATCH", f"api/tasks/{int(task_id)}/", json=fields))

    def delete_task(self, task_id: int) -> bool:
        """Delete a task; False if it was already gone."""
        return self._delete_if_present(f"api/tasks/{int(task_id)}/")

    def _delete_if_present(self, path: str) -> bool:
        """DELETE ``path``; False when Label Studio says it is already gone (404)."""
        try:
            self._request("DELETE", path)
        except LabelStudioError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create_annotation(
        self,
        task_id: int,
        *,
        result: list[dict[str, Any]],
        completed_by: int | None = None,
        was_cancelled: bool = False,
        lead_time: float | None = None,
    ) -> dict[str, Any]:
        """An annotation on a task, attributed to ``completed_by`` when given (admins may, notes §2)."""
        body: dict[str, Any] = {"result": result, "was_cancelled": was_cancelled, "ground_truth": False}
        if completed_by is not None:
            body["completed_by"] = int(completed_by)
        if lead_time is not None:
            body["lead_time"] = lead_time
        attempt = current_attempt()
        if attempt is not None and attempt.is_retry:  # an earlier attempt may have created it
            mine = completed_by if completed_by is not None else int(self.whoami()["id"])
            # The task, not /annotations/, which leaves out skips (1.23.2 AnnotationsListAPI).
            for done in self._request("GET", f"api/tasks/{int(task_id)}/").get("annotations") or []:
                if same_annotation(_plain_annotation(done), mine, result, was_cancelled):
                    return dict(done)
        return dict(self._request("POST", f"api/tasks/{int(task_id)}/annotations/", json=body))

    def import_task_skipped_by(self, project_id: int, data: dict[str, Any], user_ids: list[int]) -> int:
        """One new task that each of ``user_ids`` has already skipped, in one call; its id.

        Imported with a cancelled, empty annotation per user, so next-task treats it as done for
        them (shared/label-studio-notes.md §3, b2). ``ground_truth`` is set false because imported
        annotations default to true. Import sends no ANNOTATION_* webhook for what it brings, sets
        ``overlap`` to the project's maximum whatever the body says, and on SQLite may give the
        task (and the annotations) the id of a task deleted before. Inside a job the task carries a
        marker in ``meta`` until the caller's next PATCH (``meta={}``) clears it.
        """
        skips = [
            {"result": [], "was_cancelled": True, "ground_truth": False, "completed_by": int(u)}
            for u in user_ids
        ]
        task: dict[str, Any] = {"data": data, "annotations": skips}
        attempt = current_attempt()
        if attempt is not None:  # as create_task: a retry looks for the first attempt's task first;
            marker = attempt.marker("task", int(project_id), data)  # the caller clears the marker
            if attempt.is_retry and (
                found := find_marked_task(self._request, project_id, marker, attempt.since)
            ):
                return int(found["id"])
            task["meta"] = {MARKER_KEY: marker}
        task_ids = self.import_tasks(project_id, [task])
        if len(task_ids) != 1:
            raise LabelStudioError(f"Label Studio import into project {project_id} returned ids {task_ids}")
        return task_ids[0]

    # -- relabeling -----------------------------------------------------------------------------------------

    def create_project(self, title: str, label_config: str, **fields: Any) -> dict[str, Any]:
        body = {"title": title, "label_config": label_config, **fields}
        return dict(self._request("POST", "api/projects/", json=body))

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks (``data``, ``meta``, ``predictions``) in one call; their new ids, in order."""
        answer = self._request(
            "POST", f"api/projects/{int(project_id)}/import", params={"return_task_ids": "true"}, json=tasks
        )
        return [int(i) for i in answer.get("task_ids") or []]

    def tasks_marked(
        self, project_id: int, key: str, values: Iterable[Any], since: datetime | None
    ) -> dict[Any, int]:
        """``{value: task id}`` of the project's tasks created since ``since`` whose ``meta[key]`` is one
        of ``values``: what an import whose answer was lost brought in (see plugin.resend)."""
        found = find_marked_tasks(self._request, project_id, key, values, since)
        return {value: int(task["id"]) for value, task in found.items()}

    def get_task(self, task_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"api/tasks/{int(task_id)}/"))

    def list_predictions(self, project_id: int) -> list[dict[str, Any]]:
        """Every prediction of the project (task, model_version, score, result)."""
        return list(self._request("GET", "api/predictions/", params={"project": int(project_id)}))

    # -- Data Manager tabs (views; Community and Enterprise) ------------------------------------------------

    def list_views(self, project_id: int) -> list[dict[str, Any]]:
        """The project's Data Manager tabs (id, data.title, data.filters)."""
        views = self._request("GET", "api/dm/views/", params={"project": int(project_id)})
        return [v for v in views if v.get("project") == int(project_id)]

    def create_view(self, project_id: int, title: str, filters: dict[str, Any]) -> dict[str, Any]:
        body = {"project": int(project_id), "data": {"title": title, "filters": filters}}
        return dict(self._request("POST", "api/dm/views/", json=body))

    def update_view(
        self, view_id: int, project_id: int, title: str, filters: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"project": int(project_id), "data": {"title": title, "filters": filters}}
        return dict(self._request("PATCH", f"api/dm/views/{int(view_id)}/", json=body))

    def delete_view(self, view_id: int) -> bool:
        """Delete a tab; False if it was already gone (someone closed it in the Data Manager)."""
        return self._delete_if_present(f"api/dm/views/{int(view_id)}/")

    # -- Enterprise only (Community answers 404, shared/label-studio-notes.md §4) ---------------------------

    def assign_task(self, project_id: int, task_id: int, user_ids: list[int]) -> None:
        """Make ``user_ids`` the task's annotators (task assignment)."""
        body = {"type": "AN", "users": [int(u) for u in user_ids]}
        path = f"api/projects/{int(project_id)}/tasks/{int(task_id)}/assignees"
        attempt = current_attempt()
        if attempt is not None and attempt.is_retry:  # an earlier attempt may have assigned them
            assigned = {int(a["assignee"]) for a in self._request("GET", path) or [] if a.get("type") == "AN"}
            if assigned >= set(body["users"]):
                return
        self._request("POST", path, json=body)

    def pause_annotator(self, project_id: int, user_id: int, reason: str) -> None:
        """Stop an annotator from labeling in a project until a manager resumes them."""
        body = {"reason": "ANNOTATOR_EVALUATION", "verbose_reason": reason[:500]}
        path = f"api/projects/{int(project_id)}/members/{int(user_id)}/pauses/"
        attempt = current_attempt()
        retry = attempt is not None and attempt.is_retry  # an earlier attempt may have paused them
        if retry and any(p.get("deleted_at") is None for p in self._request("GET", path) or []):
            return
        self._request("POST", path, json=body)

    # -- transport -------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call through the SDK's HTTP client (auth headers, retries); JSON answer or LabelStudioError.

        The SDK re-sends a request after a 5xx or a dropped connection; a POST creates something, so
        it is sent once here, and the caller decides (see ``maybe_applied``)."""
        what = f"{method} /{path}"
        if method == "POST":
            kwargs["request_options"] = {"max_retries": 0}
        try:
            response = self._client._client_wrapper.httpx_client.request(path, method=method, **kwargs)
        except ApiError as exc:  # raised by the SDK's PAT refresh (e.g. a revoked or foreign token)
            raise LabelStudioError(
                f"Label Studio {what} failed: token refresh answered {exc.status_code}: "
                f"{_short_body(exc.body)}",
                exc.status_code,
            ) from exc
        except httpx.TimeoutException as exc:
            raise LabelStudioError(
                mask_url_password(f"Label Studio at {self.url} did not answer {what} in time ({exc})"),
                maybe_applied=not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
            ) from exc
        except httpx.HTTPError as exc:
            raise LabelStudioError(
                mask_url_password(f"cannot reach Label Studio at {self.url} ({what}): {_one_line(exc)}"),
                maybe_applied=not isinstance(exc, httpx.ConnectError),
            ) from exc
        except ValueError as exc:  # the SDK parses a failed refresh as JSON; an HTML page breaks that
            raise LabelStudioError(
                f"Label Studio {what}: unexpected answer to the token refresh ({exc})"
            ) from exc
        self._server_date = response.headers.get("date")  # Label Studio's clock, for the sync's cursor
        if response.status_code >= 400:
            raise LabelStudioError(
                f"Label Studio {what} failed: {response.status_code} {response.reason_phrase}: "
                f"{_short_body(response.text)}",
                response.status_code,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
                maybe_applied=response.status_code >= 500,
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise LabelStudioError(
                f"Label Studio {what} answered non-JSON: {_short_body(response.text)}", maybe_applied=True
            ) from exc


def skipped_by(task: dict[str, Any]) -> set[int]:
    """Who has a cancelled annotation (a skip) on ``task``, as Label Studio returned it."""
    return {
        int(a["completed_by"])
        for a in (_plain_annotation(a) for a in task.get("annotations") or [])
        if a.get("was_cancelled") and a.get("completed_by") is not None
    }


def _plain_task(task: dict[str, Any]) -> dict[str, Any]:
    plain = {key: task.get(key) for key in TASK_FIELDS}
    plain["annotations"] = [_plain_annotation(a) for a in task.get("annotations") or []]
    return plain


def _plain_annotation(annotation: dict[str, Any]) -> dict[str, Any]:
    plain = {key: annotation.get(key) for key in ANNOTATION_FIELDS}
    user = plain["completed_by"]
    plain["completed_by"] = int(user["id"]) if isinstance(user, dict) else user
    return plain


def _dm_filter(column: str, operator: str, kind: str, value: Any) -> dict[str, Any]:
    return {"filter": f"filter:tasks:{column}", "operator": operator, "type": kind, "value": value}


def _dm_query(items: list[dict[str, Any]], ordering: str) -> dict[str, Any]:
    return {"filters": {"conjunction": "and", "items": items}, "ordering": [ordering]}


def _dm_time(stamp: str) -> str:
    """A timestamp as the Data Manager's filters parse it (``%Y-%m-%dT%H:%M:%S.%fZ``, UTC)."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _short_body(body: Any) -> str:
    """A short single-line version of an error body: the ``detail`` of LS's JSON errors, or a page title."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return _html_title(body) or _one_line(body)
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("detail", "validation_errors") if body.get(key)]
        return _one_line(": ".join(parts) if parts else body)
    return _one_line(body)


def _html_title(text: str) -> str | None:
    lowered = text.lower()
    start, end = lowered.find("<title>"), lowered.find("</title>")
    if start < 0 or end < start:
        return None
    return "HTML page: " + _one_line(text[start + len("<title>") : end])


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _BODY_LIMIT else text[: _BODY_LIMIT - 1] + "…"
