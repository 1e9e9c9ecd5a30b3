"""Dashboard login: one configured user, Flask's signed session cookie, CSRF tokens for form posts.

The cookie holds only the user name and a CSRF token, signed with ``dashboard.session_secret``;
changing the user name or the secret logs everyone out.
"""

import hmac
import secrets
from datetime import timedelta

from flask import Flask, current_app, session

from plugin.settings import Settings

SESSION_LIFETIME = timedelta(hours=8)
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
