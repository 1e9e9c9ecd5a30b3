"""The worker: turns inbox events into domain records, and reconciles with Label Studio."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from plugin.events import EventError, parse_event
from plugin.settings import Settings
from plugin.store import Store, StoreError
from plugin.store.domain import apply_changes, event_seq
from plugin.store.inbox import claim_pending, mark_done, record_failure
from plugin.store.schema import projects

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger(__name__)

SYNC_RETRY_SECONDS = (5.0, 15.0, 30.0, 60.0)  # back-off while Label Studio is unreachable


class Worker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        adapter_factory: Callable[[], LabelStudioAdapter] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._adapter_factory = adapter_factory or self._default_adapter

    def _default_adapter(self) -> LabelStudioAdapter:
        from plugin.labelstudio import LabelStudioAdapter  # the SDK is heavy to import; only when needed

        return LabelStudioAdapter(
            self.settings["label_studio.url"],
            self.settings["label_studio.api_key"],
            timeout=self.settings["label_studio.timeout"],
        )

    def process_batch(self) -> int:
        """Process up to ``worker.batch_size`` pending events in one transaction; returns how many."""
        with self.store.begin() as conn:
            claimed = claim_pending(conn, self.settings["worker.batch_size"])
            done: list[int] = []
            for event in claimed:
                try:
                    with conn.begin_nested():  # one bad event must not spoil the batch
                        apply_changes(conn, parse_event(json.loads(event.body)), event_seq(event.id))
                    done.append(event.id)
                except (EventError, ValueError, TypeError, KeyError, SQLAlchemyError) as exc:
                    status = record_failure(
                        conn, event.id, f"{type(exc).__name__}: {exc}", self.settings["worker.max_attempts"]
                    )
                    log.warning(
                        "event %d (%s) failed: %s; now %s", event.id, event.action, type(exc).__name__, status
                    )
            mark_done(conn, done, self.worker_id)
        return len(claimed)

    def drain(self) -> int:
        total = 0
        while (n := self.process_batch()) > 0:
            total += n
        return total

    def connected_projects(self) -> list[int]:
        with self.store.read() as conn:
            return list(conn.execute(select(projects.c.id).where(projects.c.connected.is_(True))).scalars())

    def sync_connected(self) -> bool:
        """Reconcile every connected project; False if Label Studio could not be reached."""
        from plugin.labelstudio import LabelStudioError
        from plugin.sync import sync_project

        ok = True
        adapter = None
        for project_id in self.connected_projects():
            try:
                adapter = adapter or self._adapter_factory()
                log.info("sync: %s", sync_project(self.store, adapter, project_id).describe())
            except LabelStudioError as exc:
                log.warning("sync of project %d postponed: %s", project_id, exc)
                ok = False
        return ok

    def run(self, stop: threading.Event) -> None:
        """Process events until ``stop`` is set; sync at start (to recover missed events) and then
        every ``worker.sync_interval`` seconds."""
        interval = self.settings["worker.sync_interval"]
        next_sync = time.monotonic()
        failures = 0
        while not stop.is_set():
            try:
                busy = self.process_batch() > 0
                if interval and time.monotonic() >= next_sync:
                    failures = 0 if self.sync_connected() else failures + 1
                    delay = (
                        interval
                        if not failures
                        else SYNC_RETRY_SECONDS[min(failures, len(SYNC_RETRY_SECONDS)) - 1]
                    )
                    next_sync = time.monotonic() + min(interval, delay)
            except (SQLAlchemyError, StoreError) as exc:
                log.error("store error in worker: %s", type(exc).__name__)
                busy = False
            if not busy:
                stop.wait(self.settings["worker.poll_interval"])
