"""The worker: turns inbox events into domain records, and reconciles with Label Studio."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from plugin.agreement import engine as agreement_engine
from plugin.alert_delivery import send_alert_job
from plugin.audit import engine as audit_engine
from plugin.batch_facts import BatchFacts
from plugin.events import EventError, load_body, parse_event
from plugin.gold.engine import GoldContext, react_to_event
from plugin.gold.injector import GoldInjector
from plugin.gold.schedule import GoldPlan
from plugin.jobs import Job, run_due_jobs
from plugin.records import Changes
from plugin.relabel import engine as relabel_engine
from plugin.relabel.schedule import RelabelSchedule
from plugin.settings import Settings, alert_settings, review_settings
from plugin.store import Store
from plugin.store.domain import apply_batch, event_seq
from plugin.store.faults import describe_failure, is_transient
from plugin.store.heartbeats import beat, forget_worker
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
from plugin.store.schema import projects
from plugin.watchdog import CHECK_EVERY_SECONDS as WATCHDOG_EVERY_SECONDS
from plugin.watchdog import check_dead_ends, note_sync_outcome

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter
    from plugin.sync import SyncScheduler

log = logging.getLogger(__name__)

SQLITE_PIECE_ROWS = 250  # rows written per SQLite transaction for one big event
SQLITE_EVENTS_PER_TRANSACTION = 20  # events (with their reactions) per SQLite write transaction
RETENTION_EVERY_SECONDS = 3600.0  # how often the worker erases old bodies from the inbox
RETENTION_PIECE = 500  # events looked at per inbox transaction while erasing
SYNC_RETRY_SECONDS = (5.0, 15.0, 30.0, 60.0)  # back-off while Label Studio is unreachable
HEARTBEAT_SECONDS = 10.0  # how often a running worker records that it is alive (worker_heartbeats)
STORE_RETRY_MAX_SECONDS = 30.0  # longest pause, doubling from worker.poll_interval, while the store fails


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
        self.injector = (
            GoldInjector(store, self._adapter_factory, low_library_items=settings["gold.low_library_items"])
            if settings["gold.enabled"]
            else None
        )
        self.alert_settings = alert_settings(settings)
        self._retention_cursor = 0  # inbox ids up to here have had their bodies erased when due
        self.progress_at: datetime | None = None  # the last pass over the inbox that ended well
        self.job_handlers = {
            "send_alert": self._send_alert,
            **(self.injector.handlers() if self.injector else {}),
            **agreement_engine.job_handlers(store, self._adapter_factory, settings),
            **relabel_engine.job_handlers(store, self._adapter_factory, settings),
            **audit_engine.job_handlers(store, self._adapter_factory, settings),
        }
        # relabel.push_interval: the relabel loop runs without a command
        self.relabel_schedule = RelabelSchedule(store, settings)
        # Project and task facts read once per batch (plugin.batch_facts); off only to measure the
        # difference (bench/bench_worker.py).
        self.cache_facts = True

    def _default_adapter(self) -> LabelStudioAdapter:
        from plugin.labelstudio import LabelStudioAdapter  # the SDK is heavy to import; only when needed

        return LabelStudioAdapter.from_settings(self.settings)

    def process_batch(self) -> int:
        """Process up to ``worker.batch_size`` pending events; returns how many were processed."""
        limit = self.settings["worker.batch_size"]
        facts = BatchFacts(cached=self.cache_facts)
        if not self.store.split_inbox:  # PostgreSQL: claim, apply and mark done in one transaction
            with self.store.begin() as conn:
                claimed = claim_pending(conn, limit)
                self._settle(conn, *self._apply(conn, claimed, self._parse(claimed), facts))
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
                good, failed = self._apply(conn, fresh, parsed, facts, whole)
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
        """Each event's changes, or why it can never be read (an EventError: parsing is pure, so
        whatever it raises, it would raise again)."""
        parsed: dict[int, Changes | Exception] = {}
        for event in events:
            try:
                parsed[event.id] = parse_event(load_body(event.body))
            except EventError as exc:
                parsed[event.id] = exc
            except Exception as exc:
                parsed[event.id] = EventError(describe_failure(exc))
        return parsed

    def _apply(
        self,
        conn: Connection,
        claimed: list[ClaimedEvent],
        parsed: dict[int, Changes | Exception],
        facts: BatchFacts,
        whole: dict[int, Changes | Exception] | None = None,
    ) -> tuple[list[ClaimedEvent], list[tuple[ClaimedEvent, Exception]]]:
        """Write ``parsed`` (what is left to write of each event) and react to ``whole``; returns
        the events applied and the events that failed, with why."""
        whole = whole or parsed
        good = [e for e in claimed if isinstance(parsed[e.id], Changes)]
        try:
            with conn.begin_nested():
                apply_batch(conn, [(event_seq(e.id), parsed[e.id]) for e in good])  # type: ignore[misc]
                annotated = (a.task_id for e in good for a in whole[e.id].annotations)  # type: ignore[union-attr]
                facts.read_tasks(conn, annotated)
                for event in good:
                    self._react(conn, event, whole[event.id], facts)  # type: ignore[arg-type]
        except Exception as exc:
            facts.forget_all()  # what they read or forgot was rolled back with them
            if is_transient(exc):  # the database's trouble, not the events': try them all later
                raise
            good = self._apply_one_by_one(conn, good, parsed, whole, facts)
        failed = [(e, parsed[e.id]) for e in claimed if isinstance(parsed[e.id], Exception)]
        return good, failed  # type: ignore[return-value]

    def _settle(
        self, conn: Connection, done: list[ClaimedEvent], failed: list[tuple[ClaimedEvent, Exception]]
    ) -> None:
        """Mark events done or failed in the inbox (``conn`` is an inbox transaction)."""
        for event, exc in failed:
            self._fail(conn, event, exc)
        mark_done(conn, [e.id for e in done], self.worker_id)

    def _react(self, conn: Connection, event: ClaimedEvent, changes: Changes, facts: BatchFacts) -> None:
        audit_engine.react_to_event(conn, event.action, changes, self.settings, event.id)
        if self.injector is not None:
            react_to_event(conn, event.action, changes, self.gold, event.id, facts)
        agreement_engine.react_to_event(conn, event.action, changes, self.settings, event.id, facts)
        relabel_engine.react_to_event(conn, event.action, changes, self.settings, event.id, facts)

    def _apply_one_by_one(
        self,
        conn: Connection,
        events: list[ClaimedEvent],
        parsed: dict[int, Changes | Exception],
        whole: dict[int, Changes | Exception],
        facts: BatchFacts,
    ) -> list[ClaimedEvent]:
        """The batch failed as a whole: find the events to blame, keep the others."""
        applied = []
        for event in events:
            try:
                with conn.begin_nested():
                    apply_batch(conn, [(event_seq(event.id), parsed[event.id])])  # type: ignore[list-item]
                    self._react(conn, event, whole[event.id], facts)  # type: ignore[arg-type]
                applied.append(event)
            except Exception as exc:  # whatever one event makes us raise is its failure alone
                facts.forget_all()
                if is_transient(exc):
                    raise
                parsed[event.id] = exc
        return applied

    def _fail(self, conn: Connection, event: ClaimedEvent, exc: Exception) -> None:
        """Count the attempt; an unreadable event is parked at once, others retry after a back-off."""
        status = record_failure(
            conn,
            event.id,
            describe_failure(exc),
            self.settings["worker.max_attempts"],
            backoff_seconds=self.settings["worker.retry_backoff_seconds"],
            permanent=isinstance(exc, EventError),
        )
        log.warning("event %d (%s) failed: %s; now %s", event.id, event.action, type(exc).__name__, status)

    def _send_alert(self, job: Job) -> None:
        send_alert_job(
            self.store, self.alert_settings, job, attempts=self.settings["alerts.delivery_attempts"]
        )

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
            self._note_sync(False, str(exc))
            return False
        self.drain()
        self.sync_scheduler.stop()
        self._note_sync(True)
        return True

    def _note_sync(self, ok: bool, error: str | None = None) -> None:
        """Tell the watchdog how syncing goes (it alerts when it keeps failing, plugin.watchdog)."""
        for project_id in self.connected_projects():
            note_sync_outcome(self.store, self.settings, project_id, ok, error)

    def run(self, stop: threading.Event) -> None:
        """Process events until ``stop`` is set; sync at start (to recover missed events) and then
        every ``worker.sync_interval`` seconds, one page of Label Studio per turn of the loop."""
        from plugin.labelstudio import LabelStudioError

        interval = self.settings["worker.sync_interval"]
        next_retention = sync_after = next_watchdog = time.monotonic()
        failures = 0
        troubles = 0  # passes in a row that ended in an error (the store down, most likely)
        if interval:
            self.request_sync()
        heartbeat = threading.Thread(
            target=self._beat_until, args=(stop,), name="worker-heartbeat", daemon=True
        )
        heartbeat.start()
        while not stop.is_set():
            try:
                busy = self.process_batch() > 0
                self.progress_at = datetime.now(UTC)  # caught up or moving: either way not stuck
                max_attempts = self.settings["worker.job_max_attempts"]
                busy = run_due_jobs(self.store, self.job_handlers, max_attempts=max_attempts) > 0 or busy
                self.relabel_schedule.tick()
                if interval and time.monotonic() >= sync_after:
                    try:
                        busy = self.sync_step() or busy
                        if failures:
                            self._note_sync(True)
                        failures = 0
                    except LabelStudioError as exc:
                        failures += 1
                        pause = SYNC_RETRY_SECONDS[min(failures, len(SYNC_RETRY_SECONDS)) - 1]
                        log.warning("sync postponed %.0f s: %s", pause, exc)
                        self.sync_scheduler.abandon()
                        self._note_sync(False, str(exc))
                        sync_after = time.monotonic() + pause
                if time.monotonic() >= next_watchdog:
                    check_dead_ends(self.store, self.settings)
                    # samples held for a gold copy that expired, or rated by what a sync recovered
                    agreement_engine.refresh_open_sets(self.store, self.settings)
                    next_watchdog = time.monotonic() + WATCHDOG_EVERY_SECONDS
                if not busy and time.monotonic() >= next_retention:
                    self.apply_retention(stop)
                    next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
            except Exception as exc:  # events' own failures never get here: see _apply
                troubles += 1
                log.error("worker pass failed (%d in a row): %s", troubles, type(exc).__name__)
                busy = False
            else:
                troubles = 0
            if not busy:
                stop.wait(self._pause(troubles))
        if interval:
            self.sync_scheduler.stop()  # hand the lease back: another worker may resume at once
        heartbeat.join()

    def _pause(self, troubles: int) -> float:
        """Idle wait between passes: the poll interval, doubling while passes keep failing."""
        poll = self.settings["worker.poll_interval"]
        if not troubles:
            return poll
        return max(poll, min(poll * 2 ** min(troubles, 16), STORE_RETRY_MAX_SECONDS))

    def _beat_until(self, stop: threading.Event) -> None:
        """Record every HEARTBEAT_SECONDS that this worker is alive, and its last progress; a
        thread of its own, so a long sync or a slow batch does not pass for a dead worker."""
        while True:
            try:
                with self.store.begin() as conn:
                    beat(conn, self.worker_id, datetime.now(UTC), self.progress_at)
            except Exception as exc:  # the next beat tries again; /healthz shows a silent worker
                log.warning("worker heartbeat not recorded: %s", type(exc).__name__)
            if stop.wait(HEARTBEAT_SECONDS):
                break
        try:
            with self.store.begin() as conn:
                forget_worker(conn, self.worker_id)
        except Exception as exc:
            log.warning("worker heartbeat not removed: %s", type(exc).__name__)
