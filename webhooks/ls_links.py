"""Links from the dashboard and the API back into Label Studio's data manager.

Only the base URL of Label Studio leaves the service, without any user:password inside it; never
the API key.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import current_app


def public_base_url(url: str) -> str:
    """The Label Studio URL without credentials or trailing slash.

    >>> public_base_url("http://admin:s3cret@ls.example.org:8080/ls/")
    'http://ls.example.org:8080/ls'
    """
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def label_studio_base() -> str:
    return public_base_url(current_app.extensions["lsqa"]["settings"]["label_studio.url"])


def project_url(project_id: int | None) -> str | None:
    """A project's data manager (its task list)."""
    return None if project_id is None else f"{label_studio_base()}/projects/{int(project_id)}/data"


def task_url(project_id: int | None, task_id: int | None) -> str | None:
    """One task, opened in its project's data manager."""
    if project_id is None or task_id is None:
        return None
    return f"{project_url(project_id)}?task={int(task_id)}"


def tab_url(project_id: int | None, view_id: int | None) -> str | None:
    """A Data Manager tab (a saved view) of a project, else the project's data manager.

    Label Studio opens the tab named by ``?tab=<view id>``.
    """
    url = project_url(project_id)
    return url if url is None or view_id is None else f"{url}?tab={int(view_id)}"
