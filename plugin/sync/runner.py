"""Who syncs what, and when: the lease, the choice of pass, and running passes page by page.

The worker calls :meth:`SyncScheduler.step` once per loop turn: it syncs at most one page, so event
processing never waits longer than one page of Label Studio. ``lsqa sync`` and ``lsqa connect`` run
a pass to its end with :func:`sync_project`, processing the events it writes as it goes.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.labelstudio import LabelStudioAdapter
from plugin.store import Store
from plugin.store.sync_state import (
    SyncState,
    is_relabel_target,
    projects_to_sync,
    read_sync_state,
    release_lease,
    renew_leases,
    take_lease,
)
from plugin.sync.passes import PassProgress, ProjectPass

log = logging.getLogger(__name__)

LOOK_EVERY_SECONDS = 1.0  # how often an idle worker looks for a project due for a pass
LEASE_SECONDS = 60.0  # a holder renews every LEASE_SECONDS / 4; a dead one's pass is resumed after this


@dataclass(frozen=True)
class SyncPolicy:
    interval: float = 300.0  # incremental passes
    full_interval: float = 86400.0  # full passes (deletions, anything the cursor cannot see)
    page_size: int = 500


def choose_pass(state: SyncState | None, relabel: bool, policy: SyncPolicy, now: datetime) -> str | None:
    """The kind of pass a project is due for, or None."""
    if state is None or state.last_full_at is None:
        # A source project's first pass records its history without reactions; a relabel project
        # is ours from its creation, so everything in it is a reviewer's work to react to.
        return "full" if relabel else "baseline"
    if policy.full_interval and now - state.last_full_at >= timedelta(seconds=policy.full_interval):
        return "full"
    last = state.last_incremental_at or state.last_full_at
    requested = state.requested_at is not None and state.requested_at > last
    if requested or (policy.interval and now - last >= timedelta(seconds=policy.interval)):
        return "incremental"
    return None


class LeaseKeeper:
    """Renews this holder's leases from a thread, so a long page, job or batch never lets them lapse
    while the process lives; a process that dies stops renewing and its passes are resumed."""

    def __init__(self, store: Store, holder: str, seconds: float = LEASE_SECONDS) -> None:
        self.store, self.holder, self.seconds = store, holder, seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lsqa-sync-lease", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 4):
            try:
                with self.store.begin() as conn:
                    renew_leases(conn, [self.holder], datetime.now(UTC), self.seconds)
            except Exception as exc:  # the next turn tries again; the lease outlives a few misses
                log.warning("sync lease renewal failed: %s", type(exc).__name__)


@dataclass
class SyncScheduler:
    """Per worker: picks due projects, holds their lease, and advances one pass a page at a time."""

    store: Store
    adapter_factory: Callable[[], LabelStudioAdapter]
    policy: SyncPolicy
    worker_id: str
    holder: str = ""
    current: ProjectPass | None = None
    _adapter: LabelStudioAdapter | None = None
    _keeper: LeaseKeeper | None = None
    _finished: list[tuple[int, PassProgress]] = field(default_factory=list)
    _next_look: float = 0.0

    def __post_init__(self) -> None:
        self.holder = self.holder or f"{self.worker_id}:{secrets.token_hex(4)}"[:160]

    def step(self, now: datetime | None = None, eager: bool = False) -> bool:
        """Advance the running pass by one page, or start a due one (looking for one at most every
        LOOK_EVERY_SECONDS unless ``eager``); True if Label Studio was read."""
        if self.current is None:
            if not eager and time.monotonic() < self._next_look:
                return False
            self._next_look = time.monotonic() + LOOK_EVERY_SECONDS
            self.current = self._start_due(now or datetime.now(UTC))
            if self.current is None:
                return False
        running = self.current
        over = running.step()
        if over:
            self._finish(running)
        return not running.progress.waiting

    def abandon(self) -> None:
        """Give the running pass back (Label Studio unreachable): its position stays for a resume."""
        if self.current is not None:
            with self.store.begin() as conn:
                release_lease(conn, self.current.project_id, self.holder)
            self.current = None

    def stop(self) -> None:
        self.abandon()
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    def _start_due(self, now: datetime) -> ProjectPass | None:
        with self.store.read() as conn:
            candidates = []
            for project_id in projects_to_sync(conn):
                state = read_sync_state(conn, project_id)
                resumable = state is not None and state.pass_kind is not None
                if state is not None and state.pass_kind is not None:  # left unfinished: resume
                    kind: str | None = state.pass_kind
                else:
                    kind = choose_pass(state, is_relabel_target(conn, project_id), self.policy, now)
                if kind is not None and (state is None or _lease_free(state, now, self.holder)):
                    candidates.append((project_id, kind, resumable))
        for project_id, kind, resumable in candidates:
            started = self._try_start(project_id, kind, resumable, now)
            if started is not None:
                return started
        return None

    def _try_start(self, project_id: int, kind: str, resumable: bool, now: datetime) -> ProjectPass | None:
        with self.store.begin() as conn:
            if not take_lease(conn, project_id, self.holder, now, LEASE_SECONDS):
                return None
            state = read_sync_state(conn, project_id)
        assert state is not None
        self._keeper = self._keeper or LeaseKeeper(self.store, self.holder).start()
        adapter = self.adapter()
        if resumable and state.pass_kind:
            log.info("sync: resuming the %s pass of project %d", state.pass_kind, project_id)
            return ProjectPass(self.store, adapter, state, self.holder, self.policy.page_size)
        return ProjectPass.begin(self.store, adapter, state, kind, self.holder, self.policy.page_size)

    def adapter(self) -> LabelStudioAdapter:
        if self._adapter is None:
            self._adapter = self.adapter_factory()
        return self._adapter

    def _finish(self, running: ProjectPass) -> None:
        with self.store.begin() as conn:
            release_lease(conn, running.project_id, self.holder)
        self.current = None
        self._finished.append((running.project_id, running.progress))
        log.info("sync: %s", describe(running.project_id, running.progress))

    def finished(self) -> list[tuple[int, PassProgress]]:
        done, self._finished = self._finished, []
        return done


def _lease_free(state: SyncState, now: datetime, holder: str) -> bool:
    return (
        state.holder is None or state.holder == holder or state.lease_until is None or state.lease_until < now
    )


def describe(project_id: int, progress: PassProgress) -> str:
    counts = ", ".join(f"{name} {n}" for name, n in sorted(progress.counts.items()) if n) or "no differences"
    total = f"/{progress.total:,}" if progress.total is not None else ""
    return f"project {project_id}: {progress.kind} pass, {progress.done:,}{total} tasks read; {counts}"


@dataclass(frozen=True)
class SyncReport:
    project_id: int
    kind: str
    tasks: int
    counts: dict[str, int]
    seconds: float

    def describe(self) -> str:
        progress = PassProgress(self.kind, self.tasks, self.tasks, dict(self.counts))
        return f"{describe(self.project_id, progress)} in {self.seconds:.1f} s"


def sync_project(
    store: Store,
    adapter: LabelStudioAdapter,
    project_id: int,
    *,
    kind: str | None = None,
    drain: Callable[[], Any] | None = None,
    progress: Callable[[PassProgress], None] | None = None,
    page_size: int = 500,
    wait_seconds: float = 600.0,
) -> SyncReport:
    """Run one pass over a project to its end (waiting for the lease if a worker holds it): the
    project's first pass is a baseline; then ``kind`` (default: incremental). ``drain`` processes
    inbox events between pages (``lsqa sync`` runs its own worker for that); without it, the
    service's worker is expected to."""
    started = time.monotonic()
    holder = f"sync-command:{secrets.token_hex(4)}"
    keeper = LeaseKeeper(store, holder).start()
    try:
        state = _wait_for_lease(store, project_id, holder, wait_seconds)
        with store.read() as conn:
            relabel = is_relabel_target(conn, project_id)
        if state.pass_kind is not None:  # a pass a worker left unfinished: take it over
            running = ProjectPass(store, adapter, state, holder, page_size)
        else:
            first = state.last_full_at is None
            chosen = (
                choose_pass(None, relabel, SyncPolicy(), datetime.now(UTC))
                if first
                else kind or "incremental"
            )
            running = ProjectPass.begin(store, adapter, state, chosen or "full", holder, page_size)
        while not running.step():
            if progress is not None:
                progress(running.progress)
            if running.progress.waiting and (drain is None or not drain()):
                time.sleep(0.2)
        if drain is not None:
            while drain():
                pass
        if progress is not None:
            progress(running.progress)
    finally:
        keeper.stop()
        with store.begin() as conn:
            release_lease(conn, project_id, holder)
    p = running.progress
    return SyncReport(project_id, p.kind, p.done, dict(p.counts), time.monotonic() - started)


def _wait_for_lease(store: Store, project_id: int, holder: str, wait_seconds: float) -> SyncState:
    deadline = time.monotonic() + wait_seconds
    while True:
        with store.begin() as conn:
            if take_lease(conn, project_id, holder, datetime.now(UTC), LEASE_SECONDS):
                state = read_sync_state(conn, project_id)
                assert state is not None
                return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"project {project_id}: another sync held the lease for {wait_seconds:.0f} s")
        time.sleep(1.0)
