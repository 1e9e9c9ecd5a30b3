"""Raw-HTTP plumbing shared by the server and annotator helpers.

The harness talks to Label Studio the way a browser does (session login, CSRF, Personal Access Tokens
exchanged for short-lived Bearer tokens), see ``/work/shared/label-studio-notes.md`` §0 and §2. Errors carry
the status and a short body so that a failing test says what Label Studio answered.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import requests
from label_studio_sdk import LabelStudio

TIMEOUT = 30.0
# The access token minted from a PAT lives 300 s (notes §0); refresh well before that.
ACCESS_TOKEN_MAX_AGE = 240.0


class LabelStudioHTTPError(RuntimeError):
    """A call to Label Studio answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method, self.url, self.status, self.body = method, url, status, body
        short = " ".join(body.split())[:300]
        super().__init__(f"{method} {url} -> {status}: {short}")


def check(response: requests.Response) -> requests.Response:
    """Return ``response`` if it is 2xx/3xx, else raise :class:`LabelStudioHTTPError`."""
    if response.status_code >= 400:
        raise LabelStudioHTTPError(
            response.request.method or "?", response.url, response.status_code, response.text
        )
    return response


def login_session(base_url: str, email: str, password: str) -> requests.Session:
    """Log in through the HTML form (GET for the csrftoken cookie, then POST) and return the session."""
    session = requests.Session()
    check(session.get(f"{base_url}/user/login/", timeout=TIMEOUT))
    _post_form(session, f"{base_url}/user/login/", {"email": email, "password": password})
    return session


def signup_session(base_url: str, invite_token: str, email: str, password: str) -> requests.Session:
    """Sign up through the invite link, as a new annotator does in the browser (notes §2)."""
    session = requests.Session()
    url = f"{base_url}/user/signup/?token={invite_token}"
    check(session.get(url, timeout=TIMEOUT))
    _post_form(session, url, {"email": email, "password": password})
    return session


def _post_form(session: requests.Session, url: str, fields: dict[str, str]) -> None:
    data = {**fields, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    response = check(
        session.post(url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=TIMEOUT)
    )
    # Success is a 302 to the app; a 200 means the form came back with an error message in its HTML.
    if response.status_code != 302:
        raise LabelStudioHTTPError("POST", url, response.status_code, _form_errors(response.text))


def _form_errors(html: str) -> str:
    """Pull the human error out of the re-rendered form (good enough for a test failure message)."""
    marker = html.find("error")
    return html[max(0, marker - 100) : marker + 300] if marker >= 0 else html[:300]


def mint_pat(session: requests.Session, base_url: str) -> str:
    """Create the logged-in user's Personal Access Token (``POST /api/token/``; one per user, else 409)."""
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base_url}/"}
    response = check(session.post(f"{base_url}/api/token/", headers=headers, timeout=TIMEOUT))
    return str(response.json()["token"])


class PatAuth(requests.auth.AuthBase):
    """``requests`` auth that swaps a PAT for a Bearer access token and refreshes it before it expires."""

    def __init__(self, base_url: str, pat: str) -> None:
        self._base_url, self._pat = base_url, pat
        self._access = ""
        self._minted_at = 0.0
        self._lock = threading.Lock()

    def access_token(self) -> str:
        with self._lock:
            if not self._access or time.monotonic() - self._minted_at > ACCESS_TOKEN_MAX_AGE:
                response = requests.post(
                    f"{self._base_url}/api/token/refresh/", json={"refresh": self._pat}, timeout=TIMEOUT
                )
                self._access = str(check(response).json()["access"])
                self._minted_at = time.monotonic()
            return self._access

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request


class ApiSession:
    """A ``requests.Session`` bound to one user's PAT, with JSON helpers that raise on non-2xx."""

    def __init__(self, base_url: str, pat: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = PatAuth(base_url, pat)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = check(self.request(method, path, **kwargs))
        return response.json() if response.content else None

    def close(self) -> None:
        self.session.close()


class SdkClient:
    """A ``LabelStudio`` SDK client on an httpx client we own, so it can be closed (no leaked sockets)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._http = httpx.Client(timeout=TIMEOUT)
        self.sdk = LabelStudio(base_url=base_url, api_key=api_key, httpx_client=self._http)

    def close(self) -> None:
        self._http.close()
