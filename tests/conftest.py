"""Fixtures shared by every test suite.

``tests/`` has no ``__init__.py``, so pytest (default "prepend" import mode) puts this directory on
``sys.path`` before importing this file; that is what makes ``import lsharness`` work from any test module.

Fixtures are lazy: a test that does not ask for ``ls_server`` or ``pg_url`` never starts Label Studio or
touches PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from lsharness import Annotator, LabelStudioServer
from psycopg import sql

from plugin.store import Store

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


# -- Label Studio ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ls_server() -> Iterator[LabelStudioServer]:
    """One real Label Studio for the whole session (a start costs ~9 s warm, ~80 s on a fresh cache).

    Set ``LSQA_KEEP_LS_DATA=1`` to keep its data directory and log after the run.
    """
    with LabelStudioServer(keep_data_dir=bool(os.environ.get("LSQA_KEEP_LS_DATA"))) as server:
        yield server


@pytest.fixture
def make_annotator(ls_server: LabelStudioServer) -> Iterator[Callable[[], Annotator]]:
    """Factory of new annotator users (invite sign-up, own PAT); their sessions close after the test."""
    created: list[Annotator] = []

    def make() -> Annotator:
        created.append(ls_server.create_annotator())
        return created[-1]

    yield make
    for annotator in created:
        annotator.close()


# -- databases -------------------------------------------------------------------------------------


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database on 127.0.0.1:5432 (trust auth); drop it afterwards."""
    name = f"lsqa_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database shared by the session."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'lsqa.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store, once per engine: every store test runs on SQLite and PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "fresh_pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store on each engine."""
    store = Store(store_url)
    store.migrate()
    yield store
    store.dispose()
