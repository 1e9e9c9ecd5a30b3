"""Worker throughput: events/s through the worker with the service's reactions on, with the batch
cache of project and task facts (``plugin.batch_facts``) against the same worker without it.

Run: ``.venv/bin/python bench/bench_worker.py [--events 3000] [--tasks 300] [--repeats 3]
[--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]``.

Each run gets a fresh store (SQLite in a temporary directory by default; with ``--database-url``,
a new database created on that PostgreSQL server and dropped afterwards) holding one connected
project with a gold library, whose ``--tasks`` tasks came in one import (so agreement has drawn a
sample and opened part of it). Then ``--events`` ``ANNOTATION_CREATED`` bodies (the captured
payload, ``tests/eventfactory.py``) by ``--annotators`` people go round the tasks, straight into the
inbox, and the worker drains them, timed. Every reaction runs: audit trail, ground truth, the gold
schedule, sample progress and the open set, the relabel guard. Jobs the reactions enqueue stay
queued (no Label Studio here), so each annotator's gold schedule waits for its first copy, as it
does while the injector works.

Modes alternate run by run: *baseline* is the same worker with ``cache_facts = False`` (every fact
read per event, as before the cache). Prints a markdown table: median seconds and events/s, the
statements the worker ran per event, and the ratio of events/s to the baseline; and whether both
modes left the same rows behind (a check, not a timing). Figures, not assertions (the machine is
shared).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from eventfactory import annotation_event, payload  # noqa: E402

from plugin.settings import load_settings  # noqa: E402
from plugin.store import Store  # noqa: E402
from plugin.store.inbox import InboxEvent, append_events  # noqa: E402
from plugin.store.schema import annotator_states, gold_items, jobs, projects, users  # noqa: E402
from plugin.store.schema_agreement import agreement_batches, agreement_tasks  # noqa: E402
from plugin.store.schema_audit import audit_log  # noqa: E402
from plugin.worker import Worker  # noqa: E402

PROJECT = 1
LABEL_CONFIG = """<View><Text name="text" value="$text"/><Choices name="label" toName="text">
<Choice value="pos"/><Choice value="neg"/></Choices></View>"""
MODES = ("baseline", "cache")


@contextmanager
def fresh_url(server_url: str | None, directory: Path, name: str) -> Iterator[str]:
    """A SQLite file in ``directory``, or a new database on the PostgreSQL server (dropped after)."""
    if server_url is None:
        yield f"sqlite:///{directory / name}.db"
        return
    database = f"lsqa_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def settings_for(url: str) -> Any:
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "bench-secret-0123456789",
        "LSQA_DATABASE_URL": url,
    }
    return load_settings(None, env=env)


def push(store: Store, bodies: list[dict[str, Any]], keys: Iterator[int]) -> None:
    events = [InboxEvent(f"k{next(keys)}", b["action"], PROJECT, json.dumps(b)) for b in bodies]
    with store.inbox_begin() as conn:
        for start in range(0, len(events), 500):
            append_events(conn, events[start : start + 500])


def seed(store: Store, worker: Worker, args: argparse.Namespace, keys: Iterator[int]) -> None:
    """The project, its gold library and annotators, and one import of its tasks (drained, untimed)."""
    now = datetime.now(UTC)
    with store.begin() as conn:
        conn.execute(
            projects.insert().values(id=PROJECT, title="p", label_config=LABEL_CONFIG, connected=True, seq=0)
        )
        item = {
            "project_id": PROJECT,
            "classes": ["pos"],
            "origin": "cli",
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(
            gold_items.insert(),
            [{"data": {"text": f"gold {i}"}, "expert_result": [], **item} for i in range(args.gold_items)],
        )
        conn.execute(users.insert(), [{"id": u, "email": f"u{u}@x.org"} for u in annotator_ids(args)])
    body = payload("TASKS_CREATED")
    template = body["tasks"][0]
    body["tasks"] = [{**template, "id": t, "data": {"text": f"t{t}"}} for t in range(1, args.tasks + 1)]
    push(store, [body], keys)
    worker.drain()


def annotator_ids(args: argparse.Namespace) -> list[int]:
    return list(range(2, 2 + args.annotators))


def annotations(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Round the tasks: each annotator labels each task at most once for the first tasks × people."""
    people = annotator_ids(args)
    return [
        annotation_event(i + 1, 1 + i % args.tasks, people[(i // args.tasks + i) % len(people)])
        for i in range(args.events)
    ]


def effects(store: Store) -> dict[str, Any]:
    """What the reactions left behind, to check both modes did the same work."""
    with store.read() as conn:
        return {
            # a raise's key is a random uuid (plugin.agreement.openset.refill)
            "jobs": sorted(
                re.sub("[0-9a-f]{32}$", "*", k) for k in conn.execute(select(jobs.c.dedupe_key)).scalars()
            ),
            "annotator_states": conn.execute(select(func.count()).select_from(annotator_states)).scalar_one(),
            "audit": conn.execute(select(func.count()).select_from(audit_log)).scalar_one(),
            "batches": [
                tuple(r)
                for r in conn.execute(select(agreement_batches.c.status, agreement_batches.c.sample_done))
            ],
            "open_set": sorted(
                conn.execute(select(agreement_tasks.c.task_id, agreement_tasks.c.overlap)).all()
            ),
        }


@dataclass
class Run:
    seconds: float  # wall time of the drain
    cpu: float  # this process's CPU seconds meanwhile (on SQLite: nearly all of the work)
    statements: int
    effects: dict[str, Any]


def run(mode: str, args: argparse.Namespace, directory: Path, index: int) -> Run:
    """One fresh store, drained in ``mode``."""
    with fresh_url(args.database_url, directory, f"{mode}-{index}") as url:
        store = Store(url)
        store.migrate()
        worker = Worker(store, settings_for(url), adapter_factory=lambda: None)
        keys = itertools.count()
        seed(store, worker, args, keys)
        push(store, annotations(args), keys)
        worker.cache_facts = mode == "cache"
        statements = itertools.count()
        listener = lambda *_: next(statements)  # noqa: E731
        event.listen(store.engine, "before_cursor_execute", listener)
        started, cpu = time.perf_counter(), time.process_time()
        drained = worker.drain()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        event.remove(store.engine, "before_cursor_execute", listener)
        assert drained == args.events, (drained, args.events)
        found = effects(store)
        store.dispose()
    return Run(seconds, cpu, next(statements), found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--gold-items", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server (a database is created per run)")
    args = parser.parse_args()
    runs: dict[str, list[Run]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.repeats):
            for mode in MODES if index % 2 == 0 else reversed(MODES):  # alternate: the machine drifts
                runs[mode].append(run(mode, args, Path(tmp), index))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n{args.events} ANNOTATION_CREATED over {args.tasks} tasks, {args.annotators} annotators, "
        f"{args.gold_items} gold items, {engine}; medians of {args.repeats} alternating rounds\n"
    )
    print("| worker | s | events/s | worker CPU ms/event | statements/event | ratio (events/s) |")
    print("|---|---|---|---|---|---|")
    n = args.events
    for mode in MODES:
        mine, base = runs[mode], runs["baseline"]
        seconds = statistics.median(r.seconds for r in mine)
        cpu = statistics.median(r.cpu for r in mine) / n * 1000
        ratio = statistics.median(b.seconds / r.seconds for r, b in zip(mine, base, strict=True))  # per round
        label = "baseline (cache_facts off)" if mode == "baseline" else "batch cache (plugin.batch_facts)"
        statements = mine[0].statements / n
        print(
            f"| {label} | {seconds:.2f} | {n / seconds:,.0f} | {cpu:.2f} | {statements:.1f} | {ratio:.2f}× |"
        )
    rounds = {m: [round(r.seconds, 2) for r in v] for m, v in runs.items()}
    print(f"\nwall seconds per round: {json.dumps(rounds)}")
    same = all(r.effects == runs["baseline"][0].effects for v in runs.values() for r in v)
    print(f"same rows left behind by every run: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
