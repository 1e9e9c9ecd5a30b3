"""The sync's state per project: its lease, the running pass's position, cursors and figures.

The lease makes one sync per project run at a time across every worker on the store. The holder
renews it while it runs (a heartbeat, independent of how long one page takes); another worker may
take it only once it has expired, that is once the holder stopped renewing (it died). Every write of
progress is fenced on the holder, so a holder that lost its lease can never write after the taker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from plugin.store.dialect import insert
from plugin.store.schema import projects, users
from plugin.store.schema_relabel import relabel_projects
from plugin.store.schema_sync import sync_state
from plugin.store.timestamps import as_utc


@dataclass(frozen=True)
class SyncState:
    project_id: int
    holder: str | None
    lease_until: datetime | None
    pass_kind: str | None
    pass_position: dict[str, Any] | None
    pass_started_at: datetime | None
    pass_done: int
    pass_total: int | None
    pass_counts: dict[str, int] | None
    changed_since: str | None
    requested_at: datetime | None
    last_incremental_at: datetime | None
    last_full_at: datetime | None
    last_check_at: datetime | None
    last_report: dict[str, Any] | None


_TIMES = (
    "lease_until",
    "pass_started_at",
    "requested_at",
    "last_incremental_at",
    "last_full_at",
    "last_check_at",
)


def read_sync_state(conn: Connection, project_id: int) -> SyncState | None:
    row = conn.execute(select(sync_state).where(sync_state.c.project_id == project_id)).mappings().first()
    if row is None:
        return None
    values = dict(row)
    for name in _TIMES:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return SyncState(**values)


def take_lease(conn: Connection, project_id: int, holder: str, now: datetime, seconds: float) -> bool:
    """Hold the project's sync lease until ``now + seconds``: True if it was free, expired or ours."""
    conn.execute(insert(conn, sync_state).values(project_id=project_id).on_conflict_do_nothing())
    taken = conn.execute(
        update(sync_state)
        .where(
            sync_state.c.project_id == project_id,
            or_(
                sync_state.c.holder.is_(None),
                sync_state.c.lease_until.is_(None),
                sync_state.c.lease_until < now,
                sync_state.c.holder == holder,
            ),
        )
        .values(holder=holder, lease_until=now + timedelta(seconds=seconds))
    )
    return taken.rowcount == 1


def renew_leases(conn: Connection, holders: list[str], now: datetime, seconds: float) -> int:
    """Extend every lease these holders still hold; returns how many."""
    if not holders:
        return 0
    result = conn.execute(
        update(sync_state)
        .where(sync_state.c.holder.in_(holders))
        .values(lease_until=now + timedelta(seconds=seconds))
    )
    return result.rowcount


def release_lease(conn: Connection, project_id: int, holder: str) -> None:
    conn.execute(
        update(sync_state)
        .where(sync_state.c.project_id == project_id, sync_state.c.holder == holder)
        .values(holder=None, lease_until=None)
    )


def save_sync_state(conn: Connection, project_id: int, holder: str, **values: Any) -> bool:
    """Write the pass's progress if ``holder`` still holds the lease (False: it was lost)."""
    result = conn.execute(
        update(sync_state)
        .where(sync_state.c.project_id == project_id, sync_state.c.holder == holder)
        .values(**values)
    )
    return result.rowcount == 1


def request_sync(conn: Connection, project_ids: list[int], now: datetime) -> None:
    """Ask for a pass of these projects as soon as a worker can (start-up: events may have been lost)."""
    for project_id in project_ids:
        stmt = insert(conn, sync_state).values(project_id=project_id, requested_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["project_id"], set_={"requested_at": now}))


def projects_to_sync(conn: Connection) -> list[int]:
    """Connected projects and the relabel projects serving them: both send events we react to."""
    connected = set(conn.execute(select(projects.c.id).where(projects.c.connected.is_(True))).scalars())
    relabel = set(conn.execute(select(relabel_projects.c.relabel_project_id)).scalars())
    return sorted(connected | relabel)


def is_relabel_target(conn: Connection, project_id: int) -> bool:
    query = select(relabel_projects.c.source_project_id).where(
        relabel_projects.c.relabel_project_id == project_id
    )
    return conn.execute(query.limit(1)).first() is not None


def mark_project_synced(conn: Connection, project_id: int, at: datetime) -> None:
    conn.execute(update(projects).where(projects.c.id == project_id).values(last_synced_at=at))


def save_users(conn: Connection, people: list[dict[str, Any]]) -> None:
    """The organization's members (id, e-mail, username, first and last name), so figures, pages and
    alerts can name them."""
    synced = ("email", "username", "first_name", "last_name")
    for person in people:
        stmt = insert(conn, users).values(id=person["id"], **{c: person.get(c) for c in synced})
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["id"], set_={c: stmt.excluded[c] for c in synced})
        )
