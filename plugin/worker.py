"""The worker: turns inbox events into domain records, and reconciles with Label Studio."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import SQLAlchemyError

from plugin.agreement import engine as agreement_engine
from plugin.alerts import Alert, deliver_alert
from plugin.audit import engine as audit_engine
from plugin.audit import trail_facts
from plugin.events import EventError, parse_event
from plugin.gold.engine import GoldContext, react_to_event
from plugin.gold.injector import GoldInjector
from plugin.gold.schedule import GoldPlan
from plugin.jobs import Job, finish_job, run_due_jobs
from plugin.records import Changes
from plugin.relabel import engine as relabel_engine
from plugin.settings import Settings, alert_settings, review_settings
from plugin.store import Store, StoreError
from plugin.store.domain import apply_batch, event_seq
from plugin.store.inbox import (
    ClaimedEvent,
    claim_pending,
    erase_bodies,
    forget_processed,
    mark_done,
    mark_processed,
    max_event_id,
    oldest_pending,
    peek_pending,
    processed_among,
    record_failure,
)
from plugin.store.schema import alerts, projects

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter
    from plugin.sync import SyncScheduler

log = logging.getLogger(__name__)

# What a bad event can raise while applied or reacted to; anything else is a bug and stops the worker.
REACTION_ERRORS = (SQLAlchemyError, LookupError, ValueError, TypeError)
SQLITE_PIECE_ROWS = 250  # rows written per SQLite transaction for one big event
SQLITE_EVENTS_PER_TRANSACTION = 20  # events (with their reactions) per SQLite write transaction
RETENTION_EVERY_SECONDS = 3600.0  # how often the worker erases old bodies from the inbox
RETENTION_PIECE = 500  # events looked at per inbox transaction while erasing
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
        plan = GoldPlan(
            rate=settings["gold.rate"],
            jitter=settings["gold.jitter"],
            onboarding_items=settings["gold.onboarding_items"],
            quiz_items=settings["gold.quiz_items"],
        )
        # The webhook secret keys the schedule's jitter: annotators never see it.
        self.gold = GoldContext(plan=plan, salt=settings["webhook.secret"], review=review_settings(settings))
        self.injector = GoldInjector(store, self._adapter_factory) if settings["gold.enabled"] else None
        self.alert_settings = alert_settings(settings)
        self._retention_cursor = 0  # inbox ids up to here have had their bodies erased when due
        self.job_handlers = {
            "send_alert": self._send_alert,
            **(self.injector.handlers() if self.injector else {}),
            **agreement_engine.job_handlers(store, self._adapter_factory, settings),
            **relabel_engine.job_handlers(store, self._adapter_factory, settings),
            **audit_engine.job_handlers(store, self._adapter_factory, settings),
        }

    def _default_adapter(self) -> LabelStudioAdapter:
        from plugin.labelstudio import LabelStudioAdapter  # the SDK is heavy to import; only when needed

        return LabelStudioAdapter.from_settings(self.settings)

    def process_batch(self) -> int:
        """Process up to ``worker.batch_size`` pending events; returns how many were processed."""
        limit = self.settings["worker.batch_size"]
        if not self.store.split_inbox:  # PostgreSQL: claim, apply and mark done in one transaction
            with self.store.begin() as conn:
                claimed = claim_pending(conn, limit)
                self._settle(conn, *self._apply(conn, claimed, self._parse(claimed)))
            return len(claimed)
        # SQLite, inbox in its own file: read events there, parse them outside any lock, apply them
        # to the database (noting them in processed_events), and only then mark them done.
        with self.store.inbox_read() as conn:
            pending = peek_pending(conn, limit)
        parsed = self._parse(pending)
        whole = dict(parsed)  # reactions (gold, audit trail, ...) see each event whole, not its last piece
        for event_id, changes in parsed.items():
            if isinstance(changes, Changes) and changes.size() > SQLITE_PIECE_ROWS:
                *head, parsed[event_id] = changes.split(SQLITE_PIECE_ROWS)
                for piece in head:  # idempotent, so a crash between pieces only means redoing them
                    with self.store.begin() as conn:
                        apply_batch(conn, [(event_seq(event_id), piece)])
        # Short transactions: the API, the jobs and the commands write to the database too.
        settled: list[ClaimedEvent] = []
        failures: list[tuple[ClaimedEvent, Exception]] = []
        for start in range(0, len(pending), SQLITE_EVENTS_PER_TRANSACTION):
            chunk = pending[start : start + SQLITE_EVENTS_PER_TRANSACTION]
            with self.store.begin() as conn:
                applied_before = processed_among(conn, [e.id for e in chunk])
                fresh = [e for e in chunk if e.id not in applied_before]
                good, failed = self._apply(conn, fresh, parsed, whole)
                mark_processed(conn, [e.id for e in good])
            settled += [e for e in chunk if e.id in applied_before] + good
            failures += failed
        # Once for the whole batch: make those commits durable, then mark the events done (a crash
        # before this leaves them pending in the inbox, and processed_events says they are done).
        self.store.sync_database()
        with self.store.inbox_begin() as conn:
            self._settle(conn, settled, failures)
        return len(pending)

    @staticmethod
    def _parse(events: list[ClaimedEvent]) -> dict[int, Changes | Exception]:
        parsed: dict[int, Changes | Exception] = {}
        for event in events:
            try:
                parsed[event.id] = parse_event(json.loads(event.body))
            except (EventError, ValueError, TypeError, KeyError) as exc:
                parsed[event.id] = exc
        return parsed

    def _apply(
        self,
        conn: Connection,
        claimed: list[ClaimedEvent],
        parsed: dict[int, Changes | Exception],
        whole: dict[int, Changes | Exception] | None = None,
    ) -> tuple[list[ClaimedEvent], list[tuple[ClaimedEvent, Exception]]]:
        """Write ``parsed`` (what is left to write of each event) and react to ``whole``; returns
        the events applied and the events that failed, with why."""
        whole = whole or parsed
        good = [e for e in claimed if isinstance(parsed[e.id], Changes)]
        try:
            with conn.begin_nested():
                apply_batch(conn, [(event_seq(e.id), parsed[e.id]) for e in good])  # type: ignore[misc]
                for event in good:
                    self._react(conn, event, whole[event.id])  # type: ignore[arg-type]
        except REACTION_ERRORS:
            good = self._apply_one_by_one(conn, good, parsed, whole)
        failed = [(e, parsed[e.id]) for e in claimed if isinstance(parsed[e.id], Exception)]
        return good, failed  # type: ignore[return-value]

    def _settle(
        self, conn: Connection, done: list[ClaimedEvent], failed: list[tuple[ClaimedEvent, Exception]]
    ) -> None:
        """Mark events done or failed in the inbox (``conn`` is an inbox transaction)."""
        for event, exc in failed:
            self._fail(conn, event, exc)
        mark_done(conn, [e.id for e in done], self.worker_id)

    def _react(self, conn: Connection, event: ClaimedEvent, changes: Changes) -> None:
        audit_engine.react_to_event(conn, event.action, changes, self.settings, event.id)
        if self.injector is not None:
            react_to_event(conn, event.action, changes, self.gold, event.id)
        agreement_engine.react_to_event(conn, event.action, changes, self.settings, event.id)
        relabel_engine.react_to_event(conn, event.action, changes, self.settings, event.id)

    def _apply_one_by_one(
        self,
        conn: Connection,
        events: list[ClaimedEvent],
        parsed: dict[int, Changes | Exception],
        whole: dict[int, Changes | Exception],
    ) -> list[ClaimedEvent]:
        """The batch failed as a whole: find the events to blame, keep the others."""
        applied = []
        for event in events:
            try:
                with conn.begin_nested():
                    apply_batch(conn, [(event_seq(event.id), parsed[event.id])])  # type: ignore[list-item]
                    self._react(conn, event, whole[event.id])  # type: ignore[arg-type]
                applied.append(event)
            except REACTION_ERRORS as exc:
                parsed[event.id] = exc
        return applied

    def _fail(self, conn: Connection, event: ClaimedEvent, exc: Exception) -> None:
        status = record_failure(
            conn, event.id, f"{type(exc).__name__}: {exc}", self.settings["worker.max_attempts"]
        )
        log.warning("event %d (%s) failed: %s; now %s", event.id, event.action, type(exc).__name__, status)

    def _send_alert(self, job: Job) -> None:
        with self.store.read() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == job.payload["alert_id"])).mappings().one()
        details = dict(row["details"])
        alert = Alert(
            row["kind"], row["severity"], row["project_id"], row["title"], details.pop("text", ""), details
        )
        record = deliver_alert(alert, self.alert_settings)
        with self.store.begin() as conn:
            delivered = [asdict(d) for d in record.deliveries]
            conn.execute(update(alerts).where(alerts.c.id == row["id"]).values(delivered=delivered))
            trail_facts.alert_sent(conn, row["id"], record)
            finish_job(conn, job.id)

    def apply_retention(self, stop: threading.Event | None = None) -> int:
        """Erase the raw bodies of events processed more than ``worker.inbox_retention_days`` ago
        (rows and dedupe keys stay; failed events keep theirs), and drop the processed_events rows
        no pending event needs. Short inbox transactions: the receiver writes there. Returns how
        many bodies were erased."""
        days = self.settings["worker.inbox_retention_days"]
        erased = 0
        if days:
            before = datetime.now(UTC) - timedelta(days=days)
            after, over = self._retention_cursor, False
            while not over and not (stop and stop.is_set()):
                with self.store.inbox_begin() as conn:
                    after, over, n = erase_bodies(conn, after, before, RETENTION_PIECE)
                erased += n
            self._retention_cursor = after
        if self.store.split_inbox:  # only then does processed_events fill up
            with self.store.inbox_read() as conn:
                oldest = oldest_pending(conn)
                newest = max_event_id(conn)
            with self.store.begin() as conn:
                forget_processed(conn, oldest if oldest is not None else newest + 1)
        return erased

    def drain(self) -> int:
        total = 0
        while (n := self.process_batch()) > 0:
            total += n
        return total

    def connected_projects(self) -> list[int]:
        with self.store.read() as conn:
            return list(conn.execute(select(projects.c.id).where(projects.c.connected.is_(True))).scalars())

    @cached_property
    def sync_scheduler(self) -> SyncScheduler:
        from plugin.sync import SyncPolicy, SyncScheduler

        policy = SyncPolicy(
            interval=self.settings["worker.sync_interval"],
            full_interval=self.settings["worker.full_sync_interval"],
            page_size=self.settings["worker.sync_page_size"],
        )
        return SyncScheduler(self.store, self._adapter_factory, policy, self.worker_id)

    def request_sync(self) -> None:
        """Ask for a pass over every project we sync (at start: events may have been lost meanwhile)."""
        from plugin.store.sync_state import projects_to_sync, request_sync

        with self.store.begin() as conn:
            request_sync(conn, projects_to_sync(conn), datetime.now(UTC))

    def sync_step(self, eager: bool = False) -> bool:
        """One page of the sync (plugin.sync), if a pass is running or due; True if one was read."""
        from plugin.sync.passes import LeaseLost

        try:
            return self.sync_scheduler.step(eager=eager)
        except LeaseLost as exc:
            log.warning("sync: %s", exc)
            self.sync_scheduler.current = None
            return False

    def sync_connected(self) -> bool:
        """Run every due pass to its end (processing its events); False if Label Studio could not
        be reached."""
        from plugin.labelstudio import LabelStudioError

        self.request_sync()
        try:
            while self.sync_step(eager=True) or self.sync_scheduler.current is not None:
                self.drain()
        except LabelStudioError as exc:
            log.warning("sync postponed: %s", exc)
            self.sync_scheduler.stop()
            return False
        self.drain()
        self.sync_scheduler.stop()
        return True

    def run(self, stop: threading.Event) -> None:
        """Process events until ``stop`` is set; sync at start (to recover missed events) and then
        every ``worker.sync_interval`` seconds, one page of Label Studio per turn of the loop."""
        from plugin.labelstudio import LabelStudioError

        interval = self.settings["worker.sync_interval"]
        next_retention = sync_after = time.monotonic()
        failures = 0
        if interval:
            self.request_sync()
        while not stop.is_set():
            try:
                busy = self.process_batch() > 0
                busy = run_due_jobs(self.store, self.job_handlers) > 0 or busy
                if interval and time.monotonic() >= sync_after:
                    try:
                        busy = self.sync_step() or busy
                        failures = 0
                    except LabelStudioError as exc:
                        failures += 1
                        pause = SYNC_RETRY_SECONDS[min(failures, len(SYNC_RETRY_SECONDS)) - 1]
                        log.warning("sync postponed %.0f s: %s", pause, exc)
                        self.sync_scheduler.abandon()
                        sync_after = time.monotonic() + pause
                if not busy and time.monotonic() >= next_retention:
                    self.apply_retention(stop)
                    next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
            except (SQLAlchemyError, StoreError) as exc:
                log.error("store error in worker: %s", type(exc).__name__)
                busy = False
            if not busy:
                stop.wait(self.settings["worker.poll_interval"])
        if interval:
            self.sync_scheduler.stop()  # hand the lease back: another worker may resume at once
