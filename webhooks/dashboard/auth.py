"""Dashboard login: one configured user, Flask's signed session cookie, CSRF tokens for form posts.

The cookie holds only the user name and a CSRF token, signed with ``dashboard.session_secret``;
changing the user name or the secret logs everyone out.

Failed logins are throttled per client address (:class:`LoginThrottle`): after
``LOGIN_FAILURES_ALLOWED`` failures within ``LOGIN_WINDOW_SECONDS`` that address is refused, right
password or not, until the oldest of them leaves the window. The count is kept in each server process.
"""

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app, session

from plugin.settings import Settings

SESSION_LIFETIME = timedelta(hours=8)
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW_SECONDS = 15 * 60.0
MAX_TRACKED_CLIENTS = 10_000


class LoginThrottle:
    """Failed logins per client address in a sliding window."""

    def __init__(
        self,
        allowed: int = LOGIN_FAILURES_ALLOWED,
        window: float = LOGIN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed, self.window, self._clock = allowed, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0 if it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.allowed:
                return 0
            return max(1, int(recent[0] + self.window - self._clock() + 0.999))

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) >= MAX_TRACKED_CLIENTS:  # forget the clients whose window has passed
                self._failures = {c: f for c in list(self._failures) if (f := self._recent(c))}
            recent = self._recent(client)
            recent.append(self._clock())
            self._failures[client] = recent

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client) or deque()
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


DASHBOARD_KEYS = ("dashboard.username", "dashboard.password", "dashboard.session_secret")


def configure_sessions(app: Flask, settings: Settings) -> None:
    """Sign session cookies with the dashboard secret; no secret, no sessions (the dashboard is off)."""
    if settings["dashboard.session_secret"]:
        app.secret_key = settings["dashboard.session_secret"]
    app.config.update(
        SESSION_COOKIE_NAME="lsqa_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings["dashboard.secure_cookie"],
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.extensions["lsqa"].setdefault("login_throttle", LoginThrottle())


def missing_settings(settings: Settings) -> list[str]:
    return [key for key in DASHBOARD_KEYS if not settings[key]]


def credentials_match(username: str, password: str) -> bool:
    """Both compared in constant time, and both always compared (no early exit on the name)."""
    settings = current_app.extensions["lsqa"]["settings"]
    name_ok = _same(username, settings["dashboard.username"])
    password_ok = _same(password, settings["dashboard.password"])
    return name_ok and password_ok


def start_session(username: str) -> None:
    session.clear()  # a fresh session on login: no fixation of a pre-login cookie
    session.permanent = True
    session["user"] = username
    session["csrf"] = secrets.token_urlsafe(32)


def logged_in() -> bool:
    """A valid session of the currently configured dashboard user."""
    settings = current_app.extensions["lsqa"]["settings"]
    if missing_settings(settings):
        return False
    user = session.get("user")
    return isinstance(user, str) and _same(user, settings["dashboard.username"])


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def csrf_ok(supplied: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and supplied is not None and _same(supplied, expected)


def _same(supplied: str, expected: str) -> bool:
    """Constant-time comparison (of bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(supplied.encode(), expected.encode())
