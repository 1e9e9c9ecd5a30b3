"""Kill the service with SIGKILL while events arrive: every acknowledged event is processed once."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from eventfactory import annotation_event
from servicefixtures import ServiceProcess
from sqlalchemy import select

from plugin.store import Store
from plugin.store.schema import annotations, inbox


def wait_drained(store: Store, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.inbox_read() as conn:
            if not conn.execute(select(inbox.c.id).where(inbox.c.status == "pending").limit(1)).first():
                return
        time.sleep(0.2)
    raise AssertionError("inbox not drained")


def test_sigkill_under_load_loses_no_acknowledged_event(store_url, tmp_path):
    service = ServiceProcess(
        tmp_path, store_url, extra="worker:\n  sync_interval: 0\n  batch_size: 20\n"
    ).start()
    acknowledged: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def send(annotation_id: int) -> None:
        if stop.is_set():
            return
        body = json.dumps(
            annotation_event(annotation_id, 10_000 + annotation_id, 2 + annotation_id % 3)
        ).encode()
        try:
            if service.post(body, timeout=5).status_code == 200:
                with lock:
                    acknowledged.add(annotation_id)
        except requests.RequestException:
            pass  # not acknowledged: Label Studio would consider it lost, and sync recovers it

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(send, i) for i in range(1, 4001)]
        while len(acknowledged) < 1500:
            time.sleep(0.01)
        service.kill()  # SIGKILL to the whole process group: server, worker and supervisor
        stop.set()
        for future in futures:
            future.result()
    assert len(acknowledged) >= 1500

    service.start()
    store = Store(store_url)
    try:
        wait_drained(store)
        with store.read() as conn:
            stored = (
                conn.execute(select(annotations.c.id).where(annotations.c.deleted.is_(False))).scalars().all()
            )
        with store.inbox_read() as conn:
            events = conn.execute(select(inbox.c.status, inbox.c.attempts)).all()
    finally:
        store.dispose()
        service.stop()
    assert acknowledged <= set(stored)
    assert len(stored) == len(set(stored))
    assert {(status, attempts) for status, attempts in events} == {("done", 1)}


@pytest.mark.parametrize("signal_name", ["SIGTERM"])
def test_serve_stops_cleanly_on_sigterm(store_url, tmp_path, signal_name):
    import signal

    service = ServiceProcess(tmp_path, store_url, extra="worker:\n  sync_interval: 0\n").start()
    service.kill(getattr(signal, signal_name))
    assert service.proc.returncode == 0
