"""The sync at scale, on a real Label Studio: time and peak memory of a full sync and of the next
sync after a few changes, old path against new, at several project sizes.

    .venv/bin/python bench/bench_scale.py [--sizes 5000 20000 50000] [--changes 60]

Per size: a project gets that many tasks, each with one annotation, through the import API (in
bulk). Then, each measured in a fresh Python process (peak RSS is the process's own high-water
mark), on its own SQLite store:

* ``measure_old_full_sync``: the sync as it was before issue 11 (every task with its annotations
  held in memory, written in one transaction) - the baseline of the ratios, run in the same run;
* ``measure_first_sync``: the new first pass of a project (a baseline, streamed in pages);
* ``measure_full_pass``: a new full pass over a store already in step (what the daily pass costs);
* ``make_changes``: ``--changes`` changes through the API (a third new annotations, a third
  updated, a third deleted);
* ``measure_incremental``: the new sync after those changes (the periodic one), events processed
  by a worker included; and the old sync again after them, for the ratio.

Prints one line per measurement and writes bench/results/scale.json. Reports, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
IMPORT_CHUNK = 5000


def result(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


# -- the old sync, kept here as the baseline --------------------------------------------------------------


def old_full_sync(store: Any, adapter: Any, project_id: int) -> int:
    """The sync before issue 11 (plugin/sync.py at 14afb39), minus the users: every task with its
    annotations read into memory, then written and compared in one transaction."""
    from plugin.events import parse_annotation, parse_project, parse_task
    from plugin.records import Changes
    from plugin.store.domain import (
        apply_changes,
        delete_annotations,
        delete_tasks,
        live_ids,
        sync_seq,
        upsert_project,
    )
    from plugin.store.inbox import max_event_id
    from plugin.store.schema import annotations, tasks

    with store.inbox_read() as conn:
        seq = sync_seq(max_event_id(conn))
    changes = Changes(projects=[parse_project(adapter.get_project(project_id))])
    for task in adapter.iter_tasks(project_id):
        changes.tasks.append(parse_task(task, project_id))
        changes.annotations.extend(parse_annotation(a, project_id) for a in task.get("annotations") or [])
    task_ids = {t.id for t in changes.tasks}
    annotation_ids = {a.id for a in changes.annotations}
    with store.begin() as conn:
        known_tasks = live_ids(conn, tasks, project_id)
        known_annotations = live_ids(conn, annotations, project_id)
        apply_changes(conn, changes, seq)
        upsert_project(conn, changes.projects[0], seq, synced_at=datetime.now(UTC))
        delete_tasks(conn, sorted(known_tasks - task_ids), seq)
        delete_annotations(conn, sorted(known_annotations - annotation_ids), seq)
    return len(task_ids)


# -- one measurement, in a process of its own -------------------------------------------------------------


def _settings(database_url: str, url: str, key: str, workdir: Path) -> Any:
    from plugin.settings import load_settings

    config = workdir / "bench-scale.yaml"
    config.write_text("gold:\n  enabled: false\nagreement:\n  enabled: false\n")
    env = {
        "LABEL_STUDIO_URL": url,
        "LABEL_STUDIO_API_KEY": key,
        "LSQA_WEBHOOK_SECRET": "bench-secret-0123456789",
        "LSQA_DATABASE_URL": database_url,
    }
    return load_settings(config, env=env)


def measure_in_process(what: str, database_url: str, url: str, key: str, project_id: int) -> dict[str, Any]:
    """Run one measurement here (the child process): seconds and peak RSS."""
    from plugin.labelstudio import LabelStudioAdapter
    from plugin.store import Store
    from plugin.sync import sync_project
    from plugin.worker import Worker

    store = Store(database_url)
    store.migrate()
    settings = _settings(database_url, url, key, Path(tempfile.mkdtemp(prefix="bench-scale-")))
    worker = Worker(store, settings)
    started = time.monotonic()
    with LabelStudioAdapter(url, key, timeout=120) as adapter:
        if what == "old":
            counts: dict[str, Any] = {"tasks": old_full_sync(store, adapter, project_id)}
        else:
            kind = {"first": None, "full": "full", "incremental": None}[what]
            page_size = settings["worker.sync_page_size"]
            report = sync_project(
                store, adapter, project_id, kind=kind, drain=worker.process_batch, page_size=page_size
            )
            counts = {"kind": report.kind, "tasks": report.tasks, **report.counts}
    seconds = time.monotonic() - started
    store.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"what": what, "seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1), **counts}


def _measure(what: str, database_url: str, ls: Any, project_id: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", what, "--database", database_url]
    command += ["--url", ls.url, "--project", str(project_id)]
    # the token goes by environment, not on a command line any local user can read (ps)
    env = {**os.environ, "LSQA_BENCH_KEY": ls.admin_pat}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:  # reported, and the run goes on with the next measurement
        print(f"measurement {what} failed:\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
        return {"what": what, "seconds": float("nan"), "peak_rss_mb": float("nan"), "failed": True}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure_old_full_sync(database_url: str, ls: Any, project_id: int) -> dict[str, Any]:
    return _measure("old", database_url, ls, project_id)


def measure_first_sync(database_url: str, ls: Any, project_id: int) -> dict[str, Any]:
    return _measure("first", database_url, ls, project_id)


def measure_full_pass(database_url: str, ls: Any, project_id: int) -> dict[str, Any]:
    return _measure("full", database_url, ls, project_id)


def measure_incremental(database_url: str, ls: Any, project_id: int) -> dict[str, Any]:
    return _measure("incremental", database_url, ls, project_id)


# -- the project ------------------------------------------------------------------------------------------


def make_project(ls: Any, size: int) -> tuple[int, float]:
    """A project of ``size`` tasks, each with one annotation by the admin; returns its id and the
    seconds the import took."""
    project_id = ls.create_project(f"bench scale {size}", LABEL_CONFIG)
    from plugin.labelstudio import LabelStudioAdapter

    admin = int(ls.api.json("GET", "/api/current-user/whoami")["id"])
    started = time.monotonic()
    with LabelStudioAdapter(ls.url, ls.admin_pat, timeout=600) as adapter:  # a busy machine is slow
        for start in range(0, size, IMPORT_CHUNK):
            adapter.import_tasks(project_id, _import_chunk(admin, start, min(size, start + IMPORT_CHUNK)))
    return project_id, time.monotonic() - started


def _import_chunk(admin: int, start: int, end: int) -> list[dict[str, Any]]:
    return [
        {
            "data": {"text": f"frame {i}"},
            "annotations": [{"result": result("a" if i % 3 else "b"), "completed_by": admin}],
        }
        for i in range(start, end)
    ]


def make_changes(ls: Any, project_id: int, changes: int) -> None:
    """``changes`` changes spread over the project: new annotations, updates and deletions."""
    ids = ls.list_task_ids(project_id)
    step = max(len(ids) // max(changes, 1), 1)
    picked = ids[::step][:changes]
    for n, task_id in enumerate(picked):
        task = ls.api.json("GET", f"/api/tasks/{task_id}/")
        existing = [a["id"] for a in task.get("annotations") or []]
        if n % 3 == 0 or not existing:
            ls.api.json("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result("b")})
        elif n % 3 == 1:  # the other choice, so the update is a change the sync must see
            now = task["annotations"][0]["result"][0]["value"]["choices"][0]
            other = "a" if now == "b" else "b"
            ls.api.json("PATCH", f"/api/annotations/{existing[0]}/", json={"result": result(other)})
        else:
            ls.delete_annotation(existing[0])


def bench_size(ls: Any, size: int, changes: int, workdir: Path) -> list[dict[str, Any]]:
    from plugin.sync.passes import LOOK_BACK

    project_id, import_seconds = make_project(ls, size)
    imported_at = time.monotonic()
    print(f"{size:,} tasks imported in {import_seconds:.1f} s", flush=True)
    old_url = f"sqlite:///{workdir}/old-{size}.db"
    new_url = f"sqlite:///{workdir}/new-{size}.db"
    rows = []
    for label, func, url in (
        ("old full sync", measure_old_full_sync, old_url),
        ("new first sync", measure_first_sync, new_url),
        ("new full pass", measure_full_pass, new_url),
    ):
        rows.append({"size": size, "label": label, **func(url, ls, project_id)})
        print(_line(rows[-1]), flush=True)
    # The incremental pass also re-reads what changed in the LOOK_BACK (60 s) before the last pass
    # (plugin.sync.passes); a project imported a moment ago would be re-read whole, which is not the
    # periodic case the ratio is about. So the changes come after that window.
    wait = LOOK_BACK.total_seconds() - (time.monotonic() - imported_at)
    if wait > 0:
        time.sleep(wait)
    make_changes(ls, project_id, changes)
    for label, func, url in (
        (f"new sync after {changes} changes", measure_incremental, new_url),
        (f"old sync after {changes} changes", measure_old_full_sync, old_url),
    ):
        rows.append({"size": size, "label": label, **func(url, ls, project_id)})
        print(_line(rows[-1]), flush=True)
    incremental, old = rows[-2]["seconds"], rows[0]["seconds"]
    print(f"{size:,}: new second sync / old full sync = {incremental / old:.3f}", flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    extra = {k: v for k, v in row.items() if k not in ("size", "label", "what", "seconds", "peak_rss_mb")}
    figures = f"{row['seconds']:>8.1f} s {row['peak_rss_mb']:>7.0f} MB"
    return f"{row['size']:>7,} {row['label']:<28} {figures}  {extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--measure", choices=["old", "first", "full", "incremental"])
    parser.add_argument("--database")
    parser.add_argument("--url")
    parser.add_argument("--project", type=int)
    args = parser.parse_args()
    if args.measure:
        print(
            json.dumps(
                measure_in_process(
                    args.measure, args.database, args.url, os.environ["LSQA_BENCH_KEY"], args.project
                )
            )
        )
        return
    from lsharness import LabelStudioServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows: list[dict[str, Any]] = []
    with LabelStudioServer() as ls:
        for size in args.sizes:
            rows += bench_size(ls, size, args.changes, workdir)
    out = ROOT / "bench" / "results" / "scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
