"""The demo's progress lines, read from the service's own JSON API (what a user would call)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

STATUS_SHOWN = {"requalifying": "QUIZ", "flagged": "FLAGGED"}


def describe_batches(body: Mapping[str, Any]) -> str:
    """The newest batch: its sample's progress, then kappa and alpha once computed."""
    batch = body["batches"][-1]
    if batch.get("kappa") is None:
        return f"agreement sample {batch['sample_done']}/{batch['sample_size']}"
    weak = [c["label"] for c in batch.get("per_category", []) if c.get("below_threshold")]
    text = f"batch kappa {batch['kappa']:.2f} alpha {batch['alpha']:.2f}"
    return text + (f" (weak: {', '.join(weak)})" if weak else "")


def describe_relabel(body: Mapping[str, Any]) -> str:
    items = body["items"]
    corrected = sum(1 for item in items if item["status"] == "corrected")
    return f"relabel {len(items)} queued, {corrected} corrected"


# Figures of the other features, as (path under /api/v1/projects/<id>/, formatter of its JSON). An
# endpoint that does not answer 200, or has nothing yet, is left out of the line.
FEATURE_FIGURES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("batches", describe_batches),
    ("relabel", describe_relabel),
)


def format_progress(
    elapsed: float,
    submissions: int,
    annotators: Sequence[Mapping[str, Any]],
    names: Mapping[int, str] | None = None,
) -> str:
    """One line: time, work done, and per annotator status, gold accuracy and quiz progress."""
    minutes, seconds = divmod(int(elapsed), 60)
    parts = [f"{minutes}:{seconds:02d}  {submissions} submitted"]
    for person in annotators:
        name = (names or {}).get(person["id"]) or str(person.get("email") or person["id"]).split("@")[0]
        accuracy = (person.get("accuracy") or {}).get("accuracy")
        figure = "-" if accuracy is None else f"{accuracy:.2f}"
        status = STATUS_SHOWN.get(person["status"], person["status"])
        text = f"{name} {status} {figure} ({person['gold_answered']} gold)"
        if person.get("quiz_left"):
            text += f", quiz {person['quiz_left']} left"
        parts.append(text)
    return " | ".join(parts)


class Progress:
    """Asks ``GET /api/v1/projects/<id>/annotators``; a failed call shows as such, never stops the demo."""

    def __init__(
        self,
        service_url: str,
        api_token: str,
        project_id: int,
        names: Mapping[int, str] | None = None,
        figures: Sequence[tuple[str, Callable[[Any], str]]] = FEATURE_FIGURES,
    ) -> None:
        self._names = dict(names or {})
        self._figures = tuple(figures)
        self._base = f"{service_url}/api/v1/projects/{project_id}"
        self._url = f"{self._base}/annotators"
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_token}"

    def annotators(self) -> list[dict[str, Any]]:
        response = self._session.get(self._url, timeout=10)
        response.raise_for_status()
        people: list[dict[str, Any]] = response.json()["annotators"]
        return people

    def line(self, elapsed: float, submissions: int) -> str:
        try:
            line = format_progress(elapsed, submissions, self.annotators(), self._names)
        except (requests.RequestException, ValueError, KeyError) as exc:
            return f"{int(elapsed)} s  {submissions} submitted (figures unavailable: {type(exc).__name__})"
        return " | ".join([line, *self.feature_figures()])

    def feature_figures(self) -> list[str]:
        shown = []
        for path, describe in self._figures:
            try:
                response = self._session.get(f"{self._base}/{path}", timeout=10)
                if response.status_code == 200:
                    shown.append(describe(response.json()))
            except (requests.RequestException, ValueError, LookupError, TypeError):
                continue
        return shown

    def close(self) -> None:
        self._session.close()
