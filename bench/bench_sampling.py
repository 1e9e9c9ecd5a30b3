"""The cost of agreement sampling at 5k / 20k / 50k tasks: forming one import's batch (its sample
drawn, its tasks recorded) and refreshing the bounded open set, on a SQLite store.

Run: ``.venv/bin/python bench/bench_sampling.py [--sizes 5000 20000 50000] [--max-open 20]``.

For each size, in a fresh store holding the import's tasks (as the worker has written them before
it reacts):

- baseline: writing the import's task rows (``apply_batch``), what every ``TASKS_CREATED`` costs;
- form: ``form_batches`` for the whole import, bounded (``max_open``) and unbounded (0, the
  behaviour before: every sampled task's raise enqueued at once);
- refill: ``refresh_open_set`` after the open tasks were rated twice (they close, as many waiting
  ones open), and again with nothing to do (the cost every rating of the project pays).

Wall time and Python peak memory (``tracemalloc``) per step; ratios against the baseline of the
same run. Figures, not assertions (the machine is shared).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from plugin.agreement.batches import BatchPolicy
from plugin.agreement.engine import form_batches
from plugin.agreement.openset import OPEN_STATES, refresh_open_set
from plugin.records import Changes, ProjectRecord, TaskRecord
from plugin.store import Store
from plugin.store.domain import apply_batch
from plugin.store.schema import annotations, projects
from plugin.store.schema_agreement import agreement_tasks

PROJECT = 1


def measure(step: Callable[[], Any], traced: bool) -> float:
    """Seconds of one call, or (``traced``) its Python peak MB: tracing slows everything down, so
    time and memory come from two runs of the same steps."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    if not traced:
        return seconds
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak


def new_store(directory: Path, name: str) -> Store:
    store = Store(f"sqlite:///{directory / name}.db")
    store.migrate()
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=PROJECT, connected=True, seq=0))
    return store


def import_records(n: int) -> list[TaskRecord]:
    now = datetime.now(UTC)
    return [TaskRecord(id=i, project_id=PROJECT, data={"text": f"frame {i}"}, meta={}, created_at=now)
            for i in range(1, n + 1)]  # fmt: skip


def rate_open_tasks(store: Store) -> int:
    """Two people rate every open sampled task (what the annotators do between two refreshes)."""
    with store.begin() as conn:
        query = select(agreement_tasks.c.task_id).where(agreement_tasks.c.overlap.in_(OPEN_STATES))
        open_ids = list(conn.execute(query).scalars())
        rows = [
            {"id": 10 * t + u, "project_id": PROJECT, "task_id": t, "annotator_id": u, "result": [], "seq": 0}
            for t in open_ids
            for u in (2, 3)
        ]
        if rows:
            conn.execute(annotations.insert(), rows)
    return len(open_ids)


def run_steps(store: Store, records: list[TaskRecord], max_open: int, traced: bool) -> dict[str, float]:
    """One import through the steps; each step's seconds (or peak MB when ``traced``)."""
    policy = BatchPolicy(sample_rate=0.10, salt="bench", max_open=max_open)
    changes = Changes(projects=[ProjectRecord(id=PROJECT)], tasks=records)
    figures = {}
    with store.begin() as conn:
        figures["baseline: write task rows"] = measure(lambda: apply_batch(conn, [(1, changes)]), traced)
    with store.begin() as conn:
        figures["form" if max_open else "form, unbounded (before)"] = measure(
            lambda: form_batches(conn, records, policy), traced
        )
    if max_open:
        rate_open_tasks(store)
        with store.begin() as conn:
            figures["refill after ratings"] = measure(
                lambda: refresh_open_set(conn, PROJECT, max_open), traced
            )
            count = select(func.count()).where(agreement_tasks.c.overlap.in_(OPEN_STATES))
            assert conn.execute(count).scalar_one() == max_open
        with store.begin() as conn:
            figures["refresh, nothing to do"] = measure(
                lambda: refresh_open_set(conn, PROJECT, max_open), traced
            )
    return figures


def bench_size(n: int, max_open: int, directory: Path) -> list[tuple[str, float, float]]:
    records = import_records(n)
    rows: dict[str, list[float]] = {}
    for bound in (max_open, 0):
        for traced in (False, True):
            store = new_store(directory, f"{n}-{bound}-{traced}")
            for label, value in run_steps(store, records, bound, traced).items():
                rows.setdefault(label, [])
                if len(rows[label]) < 2:
                    rows[label].append(value)
            store.dispose()
    return [(label, seconds, peak) for label, (seconds, peak) in rows.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--max-open", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_size(200, args.max_open, Path(tmp))  # warm-up: SQLAlchemy compiles each statement once
        for n in args.sizes:
            rows = bench_size(n, args.max_open, Path(tmp))
            base = rows[0][1]
            print(f"\n{n} tasks (sample {round(n * 0.1)}, max_open {args.max_open})")
            for label, seconds, peak in rows:
                ratio = seconds / base
                print(f"  {label:28s} {seconds * 1000:9.1f} ms {ratio:7.3f}x baseline  peak {peak:6.1f} MB")


if __name__ == "__main__":
    main()
