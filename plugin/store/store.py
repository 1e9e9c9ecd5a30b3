"""The Store object: engine, migrations, transactions and health."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from plugin.store.engine import make_engine


class StoreError(Exception):
    """The database cannot be reached or used; the message is one line, without credentials."""


class Store:
    def __init__(
        self, url: str, *, sqlite_synchronous: str = "FULL", sqlite_autocheckpoint: int = 1000
    ) -> None:
        try:
            self.engine = make_engine(
                url, sqlite_synchronous=sqlite_synchronous, sqlite_autocheckpoint=sqlite_autocheckpoint
            )
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"database.url is not usable: {type(exc).__name__}") from None
        database = self.engine.url.database
        self._write_lock_path = (
            f"{database}.write-lock"
            if self.dialect == "sqlite" and database not in (None, "", ":memory:")
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("plugin.store") / "migrations"))
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the store: {_describe(exc)}") from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it holds the write lock from the start)."""
        with self._queue_for_write(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _queue_for_write(self) -> Iterator[None]:
        # SQLite's busy handler polls with growing sleeps (up to 100 ms), so a writer that releases
        # the lock and takes it straight back (the worker, between pieces of a big event) can starve
        # a waiting one (the receiver) for a second. A blocking flock wakes the waiter as soon as the
        # lock is free. SQLite's own locking still guards against anyone who skips this.
        if self._write_lock_path is None:
            yield
            return
        with open(self._write_lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.engine.connect() as conn, conn.execution_options(readonly=True).begin():
            yield conn

    def ping(self) -> str | None:
        """None when the store answers, else a one-line reason."""
        try:
            with self.read() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return _describe(exc)
        return None

    def dispose(self) -> None:
        self.engine.dispose()


def _describe(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"
