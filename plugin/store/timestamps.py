"""Stored timestamps are UTC; SQLite hands them back naive, PostgreSQL with their offset."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """The same moment, with its UTC offset attached when the database left it off."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 with its offset, or None."""
    return None if value is None else as_utc(value).isoformat()
