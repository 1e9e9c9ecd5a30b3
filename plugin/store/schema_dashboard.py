"""Tables of the dashboard's login state (issue 13), on the store's one MetaData.

Kept in the store, not in each server process, so that every gunicorn process sees the same thing:
a session ended by logout in one process is gone in all of them, and failed logins counted by one
count for all.
"""

from sqlalchemy import Column, DateTime, Index, String, Table

from plugin.store.schema import Id, metadata

# One row per logged-in dashboard session. The cookie carries the session's token; only its SHA-256 is
# stored, so a copy of the database (a backup, an export) holds no usable session.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_dashboard_sessions_expires_at", "expires_at"),
)

# One row per login attempt still counted against its client address (see plugin.store.dashboard).
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client", String(64), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_attempts_client_attempted_at", "client", "attempted_at"),
    Index("ix_login_attempts_attempted_at", "attempted_at"),
)
