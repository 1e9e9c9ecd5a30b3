"""The audit trail on both engines: the chain, its verification against tampering, the triggers
that make the table append-only, and appends from several writers at once."""

import threading

import pytest
from audittools import append, tamper, verdict
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from plugin.audit.trail import Entry, record, record_many
from plugin.audit.trail_chain import GENESIS, hash_of
from plugin.audit.trail_io import chain_head, iter_rows
from plugin.store.schema_audit import audit_log


def test_trail_appends_build_a_hash_chain(store):
    append(store, 10)
    with store.read() as conn:
        rows = list(iter_rows(conn))
        head = chain_head(conn)
    assert [r.seq for r in rows] == list(range(1, 11))
    assert rows[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False))
    assert all(hash_of(r) == r.hash for r in rows)
    assert head == (10, rows[-1].hash)
    assert rows[3].facts == '{"i":3}' and rows[3].created_at.endswith("Z")
    assert verdict(store).ok and verdict(store).rows == 10


def test_trail_verify_names_an_edited_row(store):
    append(store, 10)
    tamper(store, """UPDATE audit_log SET facts = '{"i":99}' WHERE seq = 5""")
    found = verdict(store)
    assert (found.ok, found.problem, found.seq) == (False, "edited", 5)


def test_trail_verify_names_a_removed_row(store):
    append(store, 10)
    tamper(store, "DELETE FROM audit_log WHERE seq = 4")
    found = verdict(store)
    assert (found.ok, found.problem, found.seq) == (False, "removed", 4)


def test_trail_verify_notices_rows_cut_from_the_end(store):
    append(store, 10)
    tamper(store, "DELETE FROM audit_log WHERE seq >= 9")
    found = verdict(store)
    assert (found.ok, found.problem, found.seq) == (False, "removed", 9)


def test_trail_verify_names_swapped_rows(store):
    append(store, 10)
    tamper(
        store,
        "UPDATE audit_log SET seq = -6 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = 7",
        "UPDATE audit_log SET seq = 7 WHERE seq = -6",
    )
    found = verdict(store)
    assert (found.ok, found.problem, found.seq) == (False, "reordered", 6)


def test_trail_verify_names_a_row_rewritten_with_a_fresh_hash(store):
    append(store, 10)
    with store.read() as conn:
        row = next(r for r in iter_rows(conn) if r.seq == 5)
    forged = row.__class__(**{**row.__dict__, "facts": '{"i":99}', "hash": ""})
    tamper(store, f"UPDATE audit_log SET facts = '{forged.facts}', hash = '{hash_of(forged)}' WHERE seq = 5")
    found = verdict(store)
    assert (found.ok, found.problem, found.seq) == (False, "edited", 5)


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET kind = 'x.y'", "DELETE FROM audit_log"])
def test_trail_triggers_reject_changes(store, statement):
    append(store, 3)
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
        conn.execute(text(statement))
    assert verdict(store).ok and verdict(store).rows == 3


@pytest.mark.postgres
def test_trail_trigger_rejects_truncate(fresh_pg_url):
    from plugin.store import Store

    store = Store(fresh_pg_url)
    store.migrate()
    append(store, 2)
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    store.dispose()


def test_trail_rolled_back_appends_leave_no_gap(store):
    append(store, 2)
    with pytest.raises(RuntimeError), store.begin() as conn:
        record(conn, "test.fact", facts={"lost": True})
        raise RuntimeError("the caller's transaction fails")
    with store.begin() as conn:
        with pytest.raises(RuntimeError), conn.begin_nested():
            record(conn, "test.fact", facts={"lost": True})
            raise RuntimeError("a savepoint rolls back, as the worker's batch does")
        assert record(conn, "test.fact", facts={"kept": True}) == 3
    with store.read() as conn:
        assert [r.facts for r in iter_rows(conn)][-1] == '{"kept":true}'
    assert verdict(store).ok and verdict(store).rows == 3


def test_trail_concurrent_appenders_keep_one_chain(store):
    writers, appends = 6, 15
    barrier = threading.Barrier(writers)
    errors = []

    def writer(w):
        try:
            barrier.wait()
            for i in range(appends):
                with store.begin() as conn:  # a connection and a transaction of its own
                    if i % 3:
                        record(conn, "test.fact", actor=f"writer:{w}", facts={"i": i})
                    else:
                        record_many(conn, [Entry("test.batch", None, f"writer:{w}", None, {"i": i})] * 2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    per_writer = appends + (appends + 2) // 3
    found = verdict(store)
    assert found.ok and found.rows == writers * per_writer
    with store.read() as conn:
        actors = conn.execute(select(audit_log.c.actor)).scalars().all()
    assert sorted(set(actors)) == [f"writer:{w}" for w in range(writers)]
    assert len(actors) == writers * per_writer


def test_trail_facts_are_canonical_and_free_of_credentials(store):
    np = pytest.importorskip("numpy")
    with store.begin() as conn:
        record(
            conn,
            "test.fact",
            facts={
                "b": np.float64(0.5),
                "a": (1, np.int64(2)),
                "kappa": float("nan"),
                "api_token": "s3cret",
                "n_tokens": 4,
            },
        )
        record(conn, "test.fact", actor="", subject="")
    with store.read() as conn:
        first, second = iter_rows(conn)
    assert first.facts == '{"a":[1,2],"api_token":"[redacted]","b":0.5,"kappa":null,"n_tokens":4}'
    assert (second.actor, second.subject, second.facts) == (None, None, "{}")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # checked before any SQL
@pytest.mark.parametrize("kind", ["", "Annotation.received", "received", "a.b c"])
def test_trail_rejects_badly_named_kinds(store, kind):
    with pytest.raises(ValueError), store.begin() as conn:
        record(conn, kind)
