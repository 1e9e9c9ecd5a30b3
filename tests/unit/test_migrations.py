"""The Alembic migrations build exactly the schema the code declares, on both engines."""

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
