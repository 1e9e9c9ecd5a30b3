"""Dashboard login: one configured user, server-side sessions, CSRF tokens for form posts.

The cookie is Flask's signed session (signed with ``dashboard.session_secret``): it holds a session
token, the user name and a CSRF token. The session itself lives in the store
(:mod:`plugin.store.dashboard`), so logout ends it in every server process: a copied cookie is
worthless afterwards. Changing the user name or the secret also logs everyone out.

Failed logins are throttled per client address (:class:`LoginThrottle`), counted in the store so all
server processes share the count: after ``LOGIN_FAILURES_ALLOWED`` failures within
``LOGIN_WINDOW_SECONDS`` that address is refused, right password or not, until the oldest of them
leaves the window.
"""

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, session

from plugin.settings import Settings
from plugin.store import Store
from plugin.store.dashboard import (
    clear_login_attempts,
    create_session,
    earlier_attempts,
    end_session,
    forget_login_attempt,
    record_login_attempt,
    session_username,
)

SESSION_LIFETIME = timedelta(hours=8)
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW_SECONDS = 15 * 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class LoginThrottle:
    """Failed logins per client address in a sliding window, counted in the store.

    Every attempt is recorded before its password is checked and forgotten again unless it fails
    on the password, so processes checking passwords at the same time cannot overshoot the limit.
    """

    def __init__(
        self,
        store: Store,
        allowed: int = LOGIN_FAILURES_ALLOWED,
        window: float = LOGIN_WINDOW_SECONDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store, self.allowed, self.window, self._clock = store, allowed, timedelta(seconds=window), clock

    def begin(self, client: str) -> tuple[int, int]:
        """Count an attempt: its id and the seconds ``client`` must wait (0: check the password)."""
        now = self._clock()
        attempt = record_login_attempt(self.store, client, now, self.window)
        earlier = earlier_attempts(self.store, client, attempt, now - self.window)
        if len(earlier) < self.allowed:
            return attempt, 0
        oldest_that_counts = earlier[len(earlier) - self.allowed]
        wait = (oldest_that_counts + self.window - now).total_seconds()
        return attempt, max(1, int(wait + 0.999))

    def forget(self, attempt: int) -> None:
        """The attempt was refused before its password was checked: it does not count."""
        forget_login_attempt(self.store, attempt)

    def succeeded(self, client: str) -> None:
        clear_login_attempts(self.store, client)


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
    lsqa = app.extensions["lsqa"]
    lsqa.setdefault("login_throttle", LoginThrottle(lsqa["store"]))


def missing_settings(settings: Settings) -> list[str]:
    return [key for key in DASHBOARD_KEYS if not settings[key]]


def credentials_match(username: str, password: str) -> bool:
    """Both compared in constant time, and both always compared (no early exit on the name)."""
    settings = current_app.extensions["lsqa"]["settings"]
    name_ok = _same(username, settings["dashboard.username"])
    password_ok = _same(password, settings["dashboard.password"])
    return name_ok and password_ok


def start_session(username: str) -> None:
    """A fresh session on login (no fixation of a pre-login cookie), recorded in the store."""
    session.clear()
    session.permanent = True
    session["sid"] = create_session(_store(), username, SESSION_LIFETIME, utc_now())
    session["user"] = username
    session["csrf"] = secrets.token_urlsafe(32)


def end_current_session() -> None:
    """Logout: the session ends in the store, so a copy of the cookie stops working too."""
    token = session.get("sid")
    if isinstance(token, str):
        end_session(_store(), token)
    session.clear()


def logged_in() -> bool:
    """A live session (in the store) of the currently configured dashboard user."""
    settings = current_app.extensions["lsqa"]["settings"]
    if missing_settings(settings):
        return False
    user, token = session.get("user"), session.get("sid")
    if not (isinstance(user, str) and isinstance(token, str)):
        return False
    if not _same(user, settings["dashboard.username"]):
        return False
    stored_user = session_username(_store(), token, utc_now())
    return stored_user is not None and _same(stored_user, user)


def _store() -> Store:
    store: Store = current_app.extensions["lsqa"]["store"]
    return store


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
