"""An annotator who labels through the exact HTTP calls the Label Studio labeling UI makes.

Tests must exercise the real queue (locks, overlap, sampling, ground-truth-first), so ``next_task`` calls the
Data Manager action the UI's "Label All Tasks" stream calls, not ``/api/projects/{id}/next/`` nor an id chosen
by the test (``/work/shared/label-studio-notes.md`` §2 "Next task exactly as the UI gets it").
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from label_studio_sdk import LabelStudio

from ._http import ApiSession, SdkClient, check

# When the stream is exhausted the action raises ``NotFound(f"There are no tasks for {user}")``
# (1.23.2 source: data_manager/actions/next_task.py). An unknown project is a 404 too, with another detail.
NO_MORE_TASKS_STATUS = 404
NO_MORE_TASKS_DETAIL = "there are no tasks for"


class Annotator:
    """One Label Studio user with their own Personal Access Token and HTTP session."""

    def __init__(self, base_url: str, *, user_id: int, email: str, password: str, pat: str) -> None:
        self.base_url = base_url
        self.id = user_id
        self.email = email
        self.password = password
        self.pat = pat
        self.api = ApiSession(base_url, pat)

    @classmethod
    def from_pat(cls, base_url: str, *, email: str, password: str, pat: str) -> Annotator:
        """Build an annotator from their PAT, asking the server for their user id."""
        annotator = cls(base_url, user_id=0, email=email, password=password, pat=pat)
        annotator.id = int(annotator.api.json("GET", "/api/current-user/whoami")["id"])
        return annotator

    def __repr__(self) -> str:
        return f"Annotator(id={self.id}, email={self.email!r})"

    @cached_property
    def _sdk(self) -> SdkClient:
        return SdkClient(self.base_url, self.pat)

    @property
    def client(self) -> LabelStudio:
        """SDK client authenticated as this annotator (the SDK does the PAT -> Bearer refresh itself)."""
        return self._sdk.sdk

    def next_task(self, project_id: int) -> dict[str, Any] | None:
        """The next task of this user's labeling stream, or ``None`` when the stream is finished.

        Same request as the UI: ``POST /api/dm/actions?id=next_task&project=ID`` with an empty JSON object.
        The server locks the task for this user until they submit or skip it (notes §3).
        """
        response = self.api.request("POST", f"/api/dm/actions?id=next_task&project={project_id}", json={})
        if _is_no_more_tasks(response.status_code, response.text):
            return None
        result: dict[str, Any] = check(response).json()
        return result

    def submit(
        self, task_id: int, result: list[dict[str, Any]], *, project_id: int, lead_time: float = 1.0
    ) -> dict[str, Any]:
        """Submit an annotation as the UI does and return the created annotation."""
        body = {"result": result, "lead_time": lead_time}
        return self._create_annotation(task_id, project_id, body)

    def skip(self, task_id: int, *, project_id: int) -> dict[str, Any]:
        """Skip a task: the UI posts an empty, cancelled annotation."""
        body = {"result": [], "was_cancelled": True, "lead_time": 1.0}
        return self._create_annotation(task_id, project_id, body)

    def update(self, annotation_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        """Change an annotation's result (``PATCH /api/annotations/{id}/``; sends ANNOTATION_UPDATED)."""
        updated: dict[str, Any] = self.api.json(
            "PATCH", f"/api/annotations/{annotation_id}/", json={"result": result}
        )
        return updated

    def _create_annotation(self, task_id: int, project_id: int, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.api.json(
            "POST", f"/api/tasks/{task_id}/annotations/?project={project_id}", json=body
        )
        return created

    def close(self) -> None:
        self.api.close()
        if "_sdk" in self.__dict__:
            self.__dict__.pop("_sdk").close()


def _is_no_more_tasks(status: int, body: str) -> bool:
    return status == NO_MORE_TASKS_STATUS and NO_MORE_TASKS_DETAIL in body.lower()
