"""The inbox writer's group commit: outcomes per event, errors reach every waiter, timeouts."""

import json
import threading

import pytest
from sqlalchemy import func, select

from plugin.store.inbox import InboxEvent
from plugin.store.schema import inbox
from plugin.store.writer import InboxWriter, Receipt


def event(key: str, action: str = "ANNOTATION_CREATED") -> InboxEvent:
    return InboxEvent(key, action, 1, json.dumps({"action": action}))


@pytest.fixture
def writer(store):
    writer = InboxWriter(store)
    yield writer
    writer.close()


def test_writer_reports_new_and_duplicate_events(writer, store):
    receipts = [writer.submit(event(k)) for k in ("a", "b", "a")]
    assert [r.result(timeout=10) for r in receipts] == [True, True, False]
    assert writer.submit(event("b")).result(timeout=10) is False
    with store.inbox_read() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 2


def test_writer_answers_many_concurrent_submitters(writer, store):
    outcomes: dict[int, bool] = {}

    def submit(i: int) -> None:
        outcomes[i] = writer.submit(event(f"k{i % 40}")).result(timeout=30)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(outcomes.values()) == 40  # each key stored once, whichever submitter came first
    with store.inbox_read() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 40


def test_writer_error_reaches_every_waiter():
    from plugin.store import Store

    broken = InboxWriter(Store("postgresql+psycopg://postgres@127.0.0.1:1/none"))
    receipts = [broken.submit(event(k)) for k in ("a", "b")]
    for receipt in receipts:
        with pytest.raises(Exception) as caught:
            receipt.result(timeout=30)
        assert not isinstance(caught.value, TimeoutError)
    broken.close()


def test_receipt_times_out_until_resolved_and_then_keeps_its_answer():
    receipt = Receipt(event("a"))
    with pytest.raises(TimeoutError):
        receipt.result(timeout=0.01)
    receipt.resolve(True)
    assert receipt.result(timeout=0) is True
    assert receipt.result(timeout=0) is True


def test_a_group_write_refused_for_one_event_fails_only_that_event(writer, store):
    """The issue's case: a project id of 2^63 among good events (SQLite: OverflowError; PostgreSQL:
    bigint out of range) made a whole group commit fail, so good events answered 503."""
    bad = InboxEvent("bad", "ANNOTATION_CREATED", 2**63, json.dumps({"action": "ANNOTATION_CREATED"}))
    receipts = [Receipt(event(f"good-{i}")) for i in range(3)]
    receipts.insert(1, Receipt(bad))
    writer._commit(receipts)  # one group, as the writer thread forms them under load
    with pytest.raises(Exception) as caught:
        receipts[1].result(timeout=0)
    assert not isinstance(caught.value, TimeoutError)
    assert [r.result(timeout=0) for i, r in enumerate(receipts) if i != 1] == [True, True, True]
    with store.inbox_read() as conn:
        assert sorted(conn.execute(select(inbox.c.dedupe_key)).scalars()) == ["good-0", "good-1", "good-2"]
