"""``lsqa relabel push|list|plan``: send suspect records for review, follow them, choose the fix."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from plugin.commands import StoreFactory, add_verb
from plugin.jobs import PENDING as JOB_PENDING
from plugin.jobs import (
    RUNNING_LEASE,
    Job,
    JobFailed,
    JobLeaseKeeper,
    RetryLater,
    claimant,
    enqueue_job,
    fail_job,
    postpone_job,
)
from plugin.relabel.candidates import collect_candidates
from plugin.relabel.engine import relabel_settings
from plugin.relabel.profile import relabel_plan
from plugin.relabel.queue import item_as_json, items_of, queue_candidates, relabel_project_of
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.job_claims import claim_job
from plugin.store.schema import jobs, projects

WORKER_WAIT_SECONDS = 120.0  # how long `push` waits for a job the service's worker took first


def add_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``relabel`` and its sub-commands; each handler has the ``func(settings, args)`` shape."""
    relabel = subparsers.add_parser("relabel", help="send suspect records back to Label Studio for review")
    verbs = relabel.add_subparsers(dest="relabel_command", required=True)
    for name, handler, help_text in (
        ("push", _push, "queue new candidates and push them to the relabel project (idempotent)"),
        ("list", _list, "list a project's relabel items"),
        ("plan", _plan, "recommend a relabeling strategy from the error profile on gold"),
    ):
        command = add_verb(verbs, name, handler, help_text, store_factory)
        command.add_argument("--project", "-p", type=int, required=True, help="Label Studio project id")
        if name != "push":
            command.add_argument("--json", action="store_true", help="machine-readable output")


def _push(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    project_id = args.project
    with store_factory(settings) as store:
        with store.begin() as conn:
            if not _known(conn, project_id):
                return _fail(f"project {project_id} is not known here: run lsqa connect first")
            candidates = collect_candidates(conn, project_id, relabel_settings(settings))
            new = queue_candidates(conn, project_id, candidates)
            # The scan may queue more (it reads Label Studio's predictions): it runs first, the push
            # then takes everything queued by then.
            stamp = datetime.now(UTC).isoformat()
            keys = []
            if settings["relabel.cl_enabled"]:
                keys.append(f"relabel_scan:{project_id}:{stamp}")
                enqueue_job(conn, "relabel_scan", keys[-1], {"project_id": project_id}, project_id=project_id)
            keys.append(f"relabel_push:{project_id}:{stamp}")
            enqueue_job(conn, "relabel_push", keys[-1], {"project_id": project_id}, project_id=project_id)
        by_kind = Counter(c.reason_kind for c in candidates)
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())) or "none"
        print(f"project {project_id}: candidates found: {found}; {len(new)} newly queued")
        outcome = _run_now(store, settings, keys)
        with store.read() as conn:
            items = items_of(conn, project_id)
            target = relabel_project_of(conn, project_id)
    status = Counter(i["status"] for i in items)
    where = f"relabel project {target['relabel_project_id']}" if target else "no relabel project yet"
    print(
        f"{where}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
        + (f" ({outcome})" if outcome else "")
    )
    return 0


def _run_now(store: Store, settings: Settings, keys: list[str]) -> str:
    """Run the jobs just enqueued here rather than wait for the worker; claim them as the worker does."""
    from plugin.labelstudio import LabelStudioAdapter  # the SDK is heavy to import; only when needed
    from plugin.relabel.jobs import RelabelJobs

    runner = RelabelJobs(store, lambda: LabelStudioAdapter.from_settings(settings), settings)
    try:
        return _run_claimed(store, runner.handlers(), keys)
    finally:
        runner.close()


def _run_claimed(store: Store, handlers: dict[str, Callable[[Job], None]], keys: list[str]) -> str:
    notes = []
    holder = claimant()
    for key in keys:
        now = datetime.now(UTC)
        with store.begin() as conn:
            job = claim_job(conn, key, holder, now + RUNNING_LEASE, now)
        if job is None:  # the service's worker took it first: report once it has run it
            if not _wait_for_worker(store, key):
                notes.append(f"{key.split(':')[0]} is still running in the service's worker")
            continue
        try:
            with JobLeaseKeeper(store, holder, [job.id]):
                handlers[job.kind](job)
        except RetryLater as exc:
            with store.begin() as conn:
                postpone_job(conn, job, str(exc))
            notes.append(f"{job.kind} postponed, the worker retries it: {exc}")
        except JobFailed as exc:  # Label Studio refused the call for good (plugin.jobs)
            fail_job(store, job, str(exc))
            notes.append(f"{job.kind} failed: {exc}")
    return "; ".join(notes)


def _wait_for_worker(store: Store, key: str, timeout: float = WORKER_WAIT_SECONDS) -> bool:
    """Wait until the worker has run (or postponed) the job ``key``; False if it is still at it."""
    deadline = time.monotonic() + timeout
    while True:
        with store.read() as conn:
            row = conn.execute(
                select(jobs.c.status, jobs.c.last_error).where(jobs.c.dedupe_key == key)
            ).first()
        if row is None or row.status != JOB_PENDING or row.last_error is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _list(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store, store.read() as conn:
        if not _known(conn, args.project):
            return _fail(f"project {args.project} is not known here: run lsqa connect first")
        items = items_of(conn, args.project)
        target = relabel_project_of(conn, args.project)
    if args.json:
        body = {
            "project_id": args.project,
            "relabel_project_id": target["relabel_project_id"] if target else None,
            "items": [item_as_json(i) for i in items],
        }
        print(json.dumps(body, indent=2))
        return 0
    if not items:
        print(f"project {args.project}: nothing queued for relabeling")
    for i in items:
        where = f" -> relabel task {i['relabel_task_id']}" if i["relabel_task_id"] else ""
        who = f" by {i['annotator_id']}" if i["annotator_id"] is not None else ""
        verified = (
            "" if i["gold_verified"] is None else f" gold {'passes' if i['gold_verified'] else 'still fails'}"
        )
        print(
            f"item {i['id']} [{i['status']}{verified}] task {i['source_task_id']}{who}{where}: {i['reason']}"
        )
    return 0


def _plan(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store, store.read() as conn:
        if not _known(conn, args.project):
            return _fail(f"project {args.project} is not known here: run lsqa connect first")
        plan = relabel_plan(conn, args.project)
    if args.json:
        print(json.dumps(plan, indent=2))
        return 0
    rec = plan["recommendation"]
    print(f"project {args.project}: recommended strategy: {rec['strategy'] or 'none'}")
    for reason in rec["reasons"]:
        print(f"  - {reason}")
    for action in rec["actions"]:
        print(f"  * {action}")
    print(f"  gold answers compared: {plan['records_compared']}")
    for c in sorted(plan["per_class"], key=lambda c: -c["error_rate"])[:5]:
        print(f"  class {c['label']}: {c['error_rate']:.1%} error over {c['n']}")
    for a in sorted(plan["per_annotator"], key=lambda a: -a["error_share"])[:5]:
        print(f"  annotator {a['annotator']}: {a['error_share']:.0%} of errors ({a['n']} answers)")
    return 0


def _known(conn: Any, project_id: int) -> bool:
    return conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is not None


def _fail(message: str) -> int:
    print(f"lsqa: {message}", file=sys.stderr)
    return 2
