"""The Store object: engines, migrations, transactions and health.

On SQLite the inbox lives in a file of its own next to the database (``lsqa.db`` →
``lsqa-inbox.db``). SQLite lets one writer into a file at a time, and the worker's transactions
(domain rows plus every reaction to them) are long next to the receiver's one INSERT per group
commit: sharing a file made every acknowledgement queue behind the worker. With two files the
receiver is the inbox's only regular writer; the worker reads events from it, records in the
database which events it has applied (``processed_events``, in the same transaction as their
effects) and only then marks them done in the inbox. On PostgreSQL, whose row locks let the
receiver and the worker write side by side, the inbox is a table of the one database.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from plugin.store.engine import make_engine
from plugin.store.inbox import add_missing_columns
from plugin.store.schema import inbox

INBOX_SCHEMA_VERSION = 2  # 2: inbox.retry_after
# Commits to a separate inbox leave checkpoints (the fsync-heavy copy of the log into the file) to the
# receiver's checkpoint thread (plugin.store.writer), outside the write lock, unless the log grows
# past ~40 MB.
INBOX_AUTOCHECKPOINT_PAGES = 10_000
MIGRATION_LOCK_KEY = 0x6C737161  # "lsqa": the PostgreSQL advisory lock migrations hold


class StoreError(Exception):
    """The database cannot be reached or used; the message is one line, without credentials."""


class Store:
    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        sqlite_autocheckpoint: int = 1000,
        inbox_autocheckpoint: int = INBOX_AUTOCHECKPOINT_PAGES,
    ) -> None:
        try:
            self.engine = make_engine(
                url, sqlite_synchronous=sqlite_synchronous, sqlite_autocheckpoint=sqlite_autocheckpoint
            )
            database = self.engine.url.database
            file_backed = self.dialect == "sqlite" and database not in (None, "", ":memory:")
            self.inbox_path = inbox_path_for(database) if file_backed and database else None
            self.inbox_engine: Engine = (
                make_engine(
                    f"sqlite:///{self.inbox_path}",
                    sqlite_synchronous=sqlite_synchronous,
                    sqlite_autocheckpoint=inbox_autocheckpoint,
                )
                if self.inbox_path
                else self.engine
            )
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"database.url is not usable: {type(exc).__name__}") from None
        self._write_lock_path = f"{database}.write-lock" if file_backed else None
        self._inbox_lock_path = f"{self.inbox_path}.write-lock" if self.inbox_path else None

    @property
    def split_inbox(self) -> bool:
        """Whether the inbox is a database of its own (SQLite files) rather than a table."""
        return self.inbox_engine is not self.engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("plugin.store") / "migrations"))
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # Several hosts starting at once on a new database: one migrates, the others
                    # wait for its commit here and then find the schema at its head.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
            if self.split_inbox:
                self._migrate_inbox()
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot migrate the store: {_describe(exc)}") from None

    def _migrate_inbox(self) -> None:
        """Create the inbox file's one table, and move into it the events of a store that kept its
        inbox in the database (before 0.2), ids and all: domain rows are stamped with them."""
        with self.inbox_begin() as conn:
            inbox.create(conn, checkfirst=True)
            add_missing_columns(conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {INBOX_SCHEMA_VERSION}")
        with self.engine.connect() as conn:
            legacy = conn.execute(select(func.count()).select_from(inbox)).scalar_one()
        if not legacy:
            return
        columns = ", ".join(c.name for c in inbox.columns)
        database = self.engine.url.database
        assert database is not None and self.inbox_path is not None
        raw = sqlite3.connect(database, timeout=30, isolation_level=None)
        try:
            raw.execute("ATTACH DATABASE ? AS moving", (str(self.inbox_path),))
            # Two transactions, so that each file's commit is atomic; after a crash between them
            # the next migrate copies again (ignoring what arrived) and then deletes.
            with self._queue_for_inbox_write():
                raw.execute("BEGIN IMMEDIATE")
                copy = f"INSERT OR IGNORE INTO moving.inbox ({columns}) SELECT {columns} FROM main.inbox"
                raw.execute(copy)
                raw.execute("COMMIT")
            with self._queue_for_write():
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("DELETE FROM main.inbox")
                raw.execute("COMMIT")
            raw.execute("DETACH DATABASE moving")
        finally:
            raw.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it holds the write lock from the start)."""
        with self._queue_for_write(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def inbox_begin(self) -> Iterator[Connection]:
        """A write transaction on the inbox (the database itself unless the inbox has its own file)."""
        if not self.split_inbox:
            with self.begin() as conn:
                yield conn
            return
        with self._queue_for_inbox_write(), self.inbox_engine.begin() as conn:
            yield conn

    @contextmanager
    def inbox_read(self) -> Iterator[Connection]:
        """A read-only transaction on the inbox."""
        with self.inbox_engine.connect() as conn, conn.execution_options(readonly=True).begin():
            yield conn

    def checkpoint_inbox(self) -> None:
        """Copy the inbox's write-ahead log into its file (SQLite), without blocking its writers."""
        if self.split_inbox:
            # On the DBAPI connection, outside any transaction: SQLite refuses to checkpoint in one.
            raw = self.inbox_engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.close()

    def sync_database(self) -> None:
        """Make every commit so far durable, whatever ``synchronous`` is (SQLite; a no-op elsewhere).

        With ``synchronous=NORMAL`` a commit reaches the write-ahead log but not the disk; a
        checkpoint syncs the log before copying it and the file after. So syncing the log makes
        every earlier commit durable, whether it is still in the log or already in the file.
        """
        if self._write_lock_path is None or self.engine.url.database is None:
            return
        try:
            descriptor = os.open(f"{self.engine.url.database}-wal", os.O_RDONLY)
        except FileNotFoundError:  # no log: everything is in the file, which checkpoints synced
            return
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    @contextmanager
    def _queue_for_write(self) -> Iterator[None]:
        with _flocked(self._write_lock_path):
            yield

    @contextmanager
    def _queue_for_inbox_write(self) -> Iterator[None]:
        with _flocked(self._inbox_lock_path):
            yield

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
            if self.split_inbox:
                with self.inbox_read() as conn:
                    conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return _describe(exc)
        return None

    def dispose(self) -> None:
        self.engine.dispose()
        if self.split_inbox:
            self.inbox_engine.dispose()


def inbox_path_for(database: str) -> Path:
    """Where a SQLite database's inbox lives: ``/data/lsqa.db`` → ``/data/lsqa-inbox.db``."""
    path = Path(database)
    return path.with_name(f"{path.stem}-inbox{path.suffix}")


@contextmanager
def _flocked(path: str | None) -> Iterator[None]:
    # SQLite's busy handler polls with growing sleeps (up to 100 ms), so a writer that releases
    # the lock and takes it straight back (the worker, between pieces of a big event) can starve
    # a waiting one (the receiver) for a second. A blocking flock wakes the waiter as soon as the
    # lock is free. SQLite's own locking still guards against anyone who skips this.
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _describe(exc: SQLAlchemyError | sqlite3.Error) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"
