"""The dashboard's login state in the store: sessions (revoked at logout) and login attempts.

Every function takes the time as an argument, so callers (and tests) own the clock.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from plugin.store import Store
from plugin.store.schema_dashboard import dashboard_sessions, login_attempts
from plugin.store.timestamps import as_utc


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, username: str, lifetime: timedelta, now: datetime) -> str:
    """A new session's token (for the cookie); expired sessions are removed on the way."""
    token = secrets.token_urlsafe(32)
    with store.begin() as conn:
        conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= now))
        conn.execute(
            dashboard_sessions.insert().values(
                token_hash=_hash(token), username=username, created_at=now, expires_at=now + lifetime
            )
        )
    return token


def session_username(store: Store, token: str, now: datetime) -> str | None:
    """The user of a live session, or None when the token is unknown, revoked or expired."""
    query = select(dashboard_sessions.c.username, dashboard_sessions.c.expires_at).where(
        dashboard_sessions.c.token_hash == _hash(token)
    )
    with store.read() as conn:
        row = conn.execute(query).first()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return str(row.username)


def end_session(store: Store, token: str) -> None:
    with store.begin() as conn:
        conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == _hash(token)))


def record_login_attempt(store: Store, client: str, now: datetime, window: timedelta) -> int:
    """Count an attempt before its password is checked (its id, to forget it if it is refused).

    Recorded and committed first, then counted: the k-th attempt to commit sees at least k, so
    however many processes check passwords at once, no more than the allowed number get through.
    """
    with store.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.attempted_at <= now - window))
        inserted = conn.execute(
            login_attempts.insert()
            .values(client=client[:64], attempted_at=now)
            .returning(login_attempts.c.id)
        )
        return int(inserted.scalar_one())


def earlier_attempts(store: Store, client: str, attempt_id: int, since: datetime) -> list[datetime]:
    """When ``client``'s other counted attempts since ``since`` happened, oldest first."""
    query = (
        select(login_attempts.c.attempted_at)
        .where(
            login_attempts.c.client == client[:64],
            login_attempts.c.attempted_at > since,
            login_attempts.c.id != attempt_id,
        )
        .order_by(login_attempts.c.attempted_at)
    )
    with store.read() as conn:
        return [as_utc(at) for at in conn.execute(query).scalars()]


def forget_login_attempt(store: Store, attempt_id: int) -> None:
    with store.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.id == attempt_id))


def clear_login_attempts(store: Store, client: str) -> None:
    with store.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.client == client[:64]))
