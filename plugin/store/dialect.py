"""The one dialect-specific piece: INSERT ... ON CONFLICT, which SQLite and PostgreSQL share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect: str, table: Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert(conn: Connection, table: Table) -> Any:
    return insert_for(conn.dialect.name, table)
