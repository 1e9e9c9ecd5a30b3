"""The Alembic migrations build exactly the schema the code declares, on both engines."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from plugin.store import Store
from plugin.store.schema import metadata


def test_migrations_match_the_declared_schema(store):
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_migrate_twice_changes_nothing(store_url):
    first = Store(store_url)
    first.migrate()
    tables = set(inspect(first.engine).get_table_names())
    first.migrate()
    assert set(inspect(first.engine).get_table_names()) == tables
    assert {"inbox", "tasks", "annotations", "gold_items", "jobs"} <= tables
    first.dispose()


@pytest.mark.postgres
def test_hosts_starting_at_once_on_a_new_database_migrate_it_once(fresh_pg_url):
    stores = [Store(fresh_pg_url) for _ in range(4)]
    start = threading.Barrier(len(stores))

    def migrate(store: Store) -> None:
        start.wait()
        store.migrate()

    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        list(pool.map(migrate, stores))  # raises if one failed
    with stores[0].engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    for store in stores:
        store.dispose()
