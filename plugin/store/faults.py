"""Telling a database in trouble from a row or an event that is bad on its own.

A lost connection, a locked SQLite file, a deadlock or a serialization conflict says nothing about
the data being written: the same write succeeds once the database recovers, so whatever was being
written must wait and be tried again unchanged, never be counted as failed. Anything else raised
while writing (a value out of range, a constraint, a bug reacting to one event) belongs to what
was being written.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from plugin.store.store import StoreError

# OperationalError covers SQLite's "database is locked" and PostgreSQL's lost connections,
# deadlocks and serialization failures (psycopg maps them there).
TRANSIENT_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError, StoreError)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's trouble rather than the fault of what was written."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)


def describe_failure(exc: BaseException) -> str:
    """One line on why a write or an event failed, for the inbox's error column and the logs:
    the database's own message rather than SQLAlchemy's, which appends the statement and its
    parameters (annotators' answers, gold included)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}"[:500]
