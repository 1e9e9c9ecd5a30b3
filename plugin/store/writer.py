"""Group commit for the inbox: one writer thread, many waiting request threads.

SQLite lets one writer in at a time, and its busy handler *sleeps* when writers collide, which
shows up as 100 ms tails under a threaded server (shared/PERFORMANCE.md). Funnelling every insert
through one thread that commits whatever has queued up in a single transaction removes the
collisions and shares one fsync among many events. A request is acknowledged only after the
transaction holding its event has committed.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from plugin.store.inbox import InboxEvent, append_events
from plugin.store.store import Store

log = logging.getLogger(__name__)

MAX_BATCH = 256


class InboxWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[tuple[InboxEvent, Future[bool]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, event: InboxEvent) -> Future[bool]:
        """Queue an event; the future resolves to True (stored) or False (duplicate) once committed."""
        self._ensure_started()
        future: Future[bool] = Future()
        self._queue.put((event, future))
        return future

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_started(self) -> None:
        # Started lazily so that a forking WSGI server creates the thread in each worker process.
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[tuple[InboxEvent, Future[bool]]]) -> None:
        try:
            with self._store.begin() as conn:
                inserted = append_events(conn, [event for event, _ in batch])
        except Exception as exc:  # every waiter must hear about it, whatever it was
            log.error("inbox write failed for %d event(s): %s", len(batch), type(exc).__name__)
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), new in zip(batch, inserted, strict=True):
            future.set_result(new)
