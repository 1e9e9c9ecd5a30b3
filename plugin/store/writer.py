"""Group commit for the inbox: one writer thread, many waiting request threads.

SQLite lets one writer in at a time, and its busy handler *sleeps* when writers collide, which
shows up as 100 ms tails under a threaded server (shared/PERFORMANCE.md). Funnelling every insert
through one thread that commits whatever has queued up in a single transaction removes the
collisions and shares one fsync among many events. A request is acknowledged only after the
transaction holding its event has committed. When the database refuses a group for one of its
events (not for being down or locked), the group is written again one event at a time, so only
the event at fault fails.

When the inbox is a SQLite file of its own, a second thread checkpoints its write-ahead log about
once a second while events arrive. A checkpoint copies the log into the file and syncs it; done
inside a commit (SQLite's automatic checkpoint) it would hold the write lock, and every waiting
acknowledgement, for tens of milliseconds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from plugin.store.faults import is_transient
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.store import Store

log = logging.getLogger(__name__)

MAX_BATCH = 256
CHECKPOINT_SECONDS = 1.0


class Receipt:
    """The outcome of one queued event, known once its transaction has ended.

    A bare lock instead of a ``concurrent.futures.Future``: a Future takes a condition variable and
    several lock round trips per event, which showed up in the receiver's profile under load.
    """

    __slots__ = ("event", "_done", "_new", "_error")

    def __init__(self, event: InboxEvent) -> None:
        self.event = event
        self._done = threading.Lock()
        self._done.acquire()  # released by the writer thread when the outcome is known
        self._new = False
        self._error: BaseException | None = None

    def result(self, timeout: float) -> bool:
        """True if the event was stored, False if it was a duplicate; raises the write's error,
        or TimeoutError if the transaction has not ended within ``timeout`` seconds."""
        if not self._done.acquire(timeout=timeout):
            raise TimeoutError("inbox write still pending")
        self._done.release()  # so that asking twice gives the same answer
        if self._error is not None:
            raise self._error
        return self._new

    def resolve(self, new: bool = False, error: BaseException | None = None) -> None:
        self._new, self._error = new, error
        self._done.release()


class InboxWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[Receipt | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        self._closing = False
        self._next_checkpoint = 0.0
        self.checkpoints = 0  # how many checkpoints the checkpoint thread has run

    def submit(self, event: InboxEvent) -> Receipt:
        """Queue an event; its receipt tells, once committed, whether it was new or a duplicate."""
        self._ensure_started()
        receipt = Receipt(event)
        self._queue.put(receipt)
        return receipt

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
            self._closing = True
            self._checkpoint_due.set()

    def _ensure_started(self) -> None:
        # Started lazily so that a forking WSGI server creates the thread in each worker process.
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                    self._thread.start()
                    if self._store.split_inbox:
                        self._closing = False
                        checkpointer = threading.Thread(
                            target=self._checkpoint, name="inbox-checkpoint", daemon=True
                        )
                        checkpointer.start()

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

    def _commit(self, batch: list[Receipt]) -> None:
        try:
            with self._store.inbox_begin() as conn:
                inserted = append_events(conn, [receipt.event for receipt in batch])
        except Exception as exc:  # every waiter must hear about it, whatever it was
            if len(batch) > 1 and not is_transient(exc):
                # One event the database refuses must not fail the others written with it.
                name = type(exc).__name__
                log.warning("inbox group write of %d events failed (%s); one by one", len(batch), name)
                for receipt in batch:
                    self._commit([receipt])
                return
            log.error("inbox write failed for %d event(s): %s", len(batch), type(exc).__name__)
            for receipt in batch:
                receipt.resolve(error=exc)
            return
        for receipt, new in zip(batch, inserted, strict=True):
            receipt.resolve(new)
        if self._store.split_inbox and (now := time.monotonic()) >= self._next_checkpoint:
            self._next_checkpoint = now + CHECKPOINT_SECONDS
            self._checkpoint_due.set()

    def _checkpoint(self) -> None:
        while True:
            self._checkpoint_due.wait()
            self._checkpoint_due.clear()
            if self._closing:
                return
            try:
                self._store.checkpoint_inbox()
                self.checkpoints += 1
            except Exception as exc:  # the next one will try again; SQLite checkpoints too if need be
                log.warning("inbox checkpoint failed: %s", type(exc).__name__)
