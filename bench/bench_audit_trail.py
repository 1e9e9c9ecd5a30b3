"""Benchmark the audit trail's appends and verification on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/bench_audit_trail.py [--pg postgresql+psycopg://postgres@127.0.0.1/db]``
(the PostgreSQL database must exist and be empty or already migrated; it is left with the rows).
Figures: one fact per transaction (a CLI command or a job), 200 single facts in one transaction (a
worker batch of 200 small events), one 5,000-annotation event (``record_many``), and verification.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

from plugin.audit.trail import Entry, record, record_many
from plugin.audit.trail_io import verify_store
from plugin.store import Store


def timed(fn: Callable[[], object]) -> float:
    """Median wall time of ``fn`` in seconds, over five runs."""
    return statistics.median(timeit.repeat(fn, number=1, repeat=5))


def facts(i: int) -> dict[str, object]:
    return {"annotation_id": i, "event_id": 7, "at": "2026-01-01T00:00:00+00:00", "was_cancelled": False}


def run(store: Store, label: str) -> None:
    def one_per_transaction() -> None:
        for i in range(50):
            with store.begin() as conn:
                record(
                    conn, "bench.fact", project_id=1, actor="annotator:2", subject=f"task:{i}", facts=facts(i)
                )

    def many_singles() -> None:
        with store.begin() as conn:
            for i in range(200):
                record(
                    conn, "bench.fact", project_id=1, actor="annotator:2", subject=f"task:{i}", facts=facts(i)
                )

    def one_big_event() -> None:
        entries = [Entry("bench.fact", 1, "annotator:2", f"task:{i}", facts(i)) for i in range(5000)]
        with store.begin() as conn:
            record_many(conn, entries)

    per_txn = timed(one_per_transaction) / 50
    singles = timed(many_singles) / 200
    big = timed(one_big_event)
    with store.read() as conn:
        start = time.perf_counter()
        verdict, _ = verify_store(conn)
        verify_s = time.perf_counter() - start
    assert verdict.ok
    print(
        f"{label:10s} record() in its own txn {per_txn * 1e3:.2f} ms | record() x200 in one txn "
        f"{singles * 1e3:.3f} ms each | record_many 5,000 facts {big * 1e3:.0f} ms | "
        f"verify {verdict.rows:,} rows {verify_s:.2f} s ({verdict.rows / verify_s:,.0f} rows/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", help="PostgreSQL URL of an empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        store.migrate()
        run(store, "sqlite")
        store.dispose()
    if args.pg:
        store = Store(args.pg)
        store.migrate()
        run(store, "postgresql")
        store.dispose()


if __name__ == "__main__":
    main()
