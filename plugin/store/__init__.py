"""The store: one schema on SQLite or PostgreSQL, managed by Alembic migrations."""

from plugin.store.store import Store, StoreError

__all__ = ["Store", "StoreError"]
