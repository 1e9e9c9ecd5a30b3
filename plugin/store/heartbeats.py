"""Worker heartbeats: which workers are alive, and when one last got through the inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from plugin.store.dialect import insert
from plugin.store.schema import worker_heartbeats
from plugin.store.timestamps import as_utc

# A worker that stopped without saying so (killed, host lost) leaves its row; rows this old go.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class WorkerPulse:
    """The freshest heartbeat and the latest progress over all workers (None: never)."""

    beat_at: datetime | None
    progress_at: datetime | None


def beat(conn: Connection, worker_id: str, now: datetime, progress_at: datetime | None) -> None:
    """Record that ``worker_id`` is alive at ``now`` and last got through the inbox at
    ``progress_at``; forget workers silent for a day."""
    row = {"worker_id": worker_id[:128], "beat_at": now, "progress_at": progress_at}
    stmt = insert(conn, worker_heartbeats).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["worker_id"], set_={"beat_at": now, "progress_at": progress_at}
    )
    conn.execute(stmt)
    conn.execute(delete(worker_heartbeats).where(worker_heartbeats.c.beat_at < now - FORGET_AFTER))


def forget_worker(conn: Connection, worker_id: str) -> None:
    """A worker stopping cleanly takes its row with it: its silence is then no alarm."""
    conn.execute(delete(worker_heartbeats).where(worker_heartbeats.c.worker_id == worker_id[:128]))


def worker_pulse(conn: Connection) -> WorkerPulse:
    beat_at, progress_at = conn.execute(
        select(func.max(worker_heartbeats.c.beat_at), func.max(worker_heartbeats.c.progress_at))
    ).one()
    return WorkerPulse(
        as_utc(beat_at) if beat_at is not None else None,
        as_utc(progress_at) if progress_at is not None else None,
    )
