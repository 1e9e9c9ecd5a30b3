"""The relabel loop on a schedule, inside the worker: no cron, no command needed.

Every ``relabel.push_interval`` seconds (a *slot*: the wall clock divided by the interval) the worker
enqueues one ``relabel_cycle`` job per connected source project under the key
``relabel_cycle:<project>:<slot>``. Several workers compute the same slot, and the jobs table keeps
one job per key, so a cycle runs once whichever worker gets there first. The cycle (store only)
queues new candidates and enqueues, in this order, the confident-learning scan (when
``relabel.cl_enabled``), the push and the Data Manager tabs (``plugin.relabel.views``), each under a
key of the same slot. A new model checkpoint (``PROJECT_UPDATED`` with a new ``model_version``)
enqueues a scan at once, once per model version (:func:`scan_on_new_model`).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import Connection, select

from plugin.jobs import DONE, Job, enqueue_job, finish_job
from plugin.records import Changes
from plugin.relabel.candidates import collect_candidates
from plugin.relabel.guards import is_connected_source
from plugin.relabel.queue import queue_candidates
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.schema import projects


class RelabelSchedule:
    """The worker's clock for the relabel loop; :meth:`tick` is cheap between slots."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.interval = int(settings["relabel.push_interval"])
        self._slot: int | None = None

    def tick(self, now: float | None = None) -> bool:
        """Enqueue this slot's cycles if not done yet by this worker; True if it wrote anything."""
        if not self.interval:
            return False
        slot = int((time.time() if now is None else now) // self.interval)
        if slot == self._slot:
            return False
        with self.store.begin() as conn:
            enqueue_cycles(conn, slot)
        self._slot = slot
        return True


def enqueue_cycles(conn: Connection, slot: int) -> int:
    """One ``relabel_cycle`` job per connected source project for this slot; how many were new."""
    connected = conn.execute(select(projects.c.id).where(projects.c.connected.is_(True))).scalars().all()
    new = 0
    for project_id in connected:
        if is_connected_source(conn, project_id):
            key = f"relabel_cycle:{project_id}:{slot}"
            new += enqueue_job(
                conn, "relabel_cycle", key, {"project_id": project_id, "slot": slot}, project_id=project_id
            )
    return new


def run_cycle(store: Store, settings: Settings, job: Job) -> None:
    """Queue the project's new candidates, then enqueue this slot's scan, push and tabs."""
    from plugin.relabel.engine import relabel_settings

    project_id, slot = int(job.payload["project_id"]), int(job.payload["slot"])
    with store.begin() as conn:
        new = queue_candidates(
            conn, project_id, collect_candidates(conn, project_id, relabel_settings(settings))
        )
        payload = {"project_id": project_id}
        if settings["relabel.cl_enabled"]:
            enqueue_job(
                conn, "relabel_scan", f"relabel_scan:{project_id}:slot:{slot}", payload, project_id=project_id
            )
        enqueue_job(
            conn, "relabel_push", f"relabel_push:{project_id}:slot:{slot}", payload, project_id=project_id
        )
        enqueue_job(
            conn, "relabel_views", f"relabel_views:{project_id}:slot:{slot}", payload, project_id=project_id
        )
        finish_job(conn, job.id, DONE, f"{len(new)} newly queued")


def scan_on_new_model(conn: Connection, action: str, changes: Changes, settings: Settings) -> None:
    """A project's ``model_version`` changed (a new checkpoint): scan its predictions, once per version."""
    if action != "PROJECT_UPDATED" or not settings["relabel.cl_enabled"]:
        return
    for project in changes.projects:
        version = (project.settings or {}).get("model_version")
        if not version or not is_connected_source(conn, project.id):
            continue
        digest = hashlib.sha256(str(version).encode()).hexdigest()[:16]
        payload: dict[str, Any] = {"project_id": project.id, "model_version": str(version)}
        enqueue_job(
            conn, "relabel_scan", f"relabel_scan:{project.id}:model:{digest}", payload, project_id=project.id
        )
