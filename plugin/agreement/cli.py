"""``lsqa agreement compute|list|backlog``: a project's batch agreement figures from the command line."""

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from plugin.agreement.backlog import sample_next_backlog_batch
from plugin.agreement.batches import recount_batch
from plugin.agreement.compute import compute_batch
from plugin.agreement.engine import batch_policy, compute_settings
from plugin.agreement.summary import list_batches
from plugin.commands import StoreFactory, add_verb
from plugin.relabel.guards import is_connected_source
from plugin.settings import Settings
from plugin.store.schema_agreement import agreement_batches


def add_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``agreement`` and its sub-commands; each handler has the ``func(settings, args)`` shape."""
    agreement = subparsers.add_parser("agreement", help="batch agreement figures of a project")
    verbs = agreement.add_subparsers(dest="agreement_command", required=True)
    compute = add_verb(
        verbs, "compute", _compute, "compute (again) the figures of a project's batches", store_factory
    )
    listing = add_verb(verbs, "list", _list, "list a project's batches with their figures", store_factory)
    backlog = add_verb(
        verbs, "backlog", _backlog, "form batches of the project's tasks that belong to none", store_factory
    )
    for command in (compute, listing, backlog):
        command.add_argument("--project", "-p", type=int, required=True, help="Label Studio project id")
    compute.add_argument("--batch", "-b", type=int, help="only this batch (default: every batch)")
    listing.add_argument("--json", action="store_true", help="machine-readable output (the API's JSON)")


def _compute(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store:
        with store.read() as conn:
            query = select(agreement_batches.c.id).where(
                agreement_batches.c.project_id == args.project, agreement_batches.c.status != "filling"
            )
            if args.batch is not None:
                query = query.where(agreement_batches.c.id == args.batch)
            batch_ids = list(conn.execute(query.order_by(agreement_batches.c.id)).scalars())
        if not batch_ids:
            what = f"no batch {args.batch}" if args.batch is not None else "no batches yet"
            print(f"lsqa: project {args.project} has {what}", file=sys.stderr)
            return 2
        for batch_id in batch_ids:
            with store.begin() as conn:  # a sync may have brought annotations no event announced
                recount_batch(conn, batch_id)
            figures = compute_batch(store, batch_id, compute_settings(settings))
            print(_line(batch_id, figures))
    return 0


def _backlog(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    """Tasks the store knows (from the sync) that no batch holds: batches of their own."""
    policy = batch_policy(settings)
    formed = 0
    with store_factory(settings) as store:
        with store.read() as conn:
            if not is_connected_source(conn, args.project):
                print(f"lsqa: project {args.project} is not a connected source project", file=sys.stderr)
                return 2
        while True:
            with store.begin() as conn:  # one short transaction per batch
                formed_now = sample_next_backlog_batch(conn, args.project, policy)
            if formed_now is None:
                break
            formed += 1
            print(f"batch {formed_now[0]} (backlog): {formed_now[1]} tasks")
    print(
        f"project {args.project}: {formed} backlog batch(es) formed; the worker raises their samples' "
        f"overlap {policy.max_open or 'all'} at a time"
    )
    return 0


def _list(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    threshold = settings["agreement.kappa_threshold"]
    with store_factory(settings) as store, store.read() as conn:
        batches = list_batches(conn, args.project, threshold)
    if args.json:
        print(
            json.dumps(
                {"project_id": args.project, "kappa_threshold": threshold, "batches": batches}, indent=2
            )
        )
        return 0
    if not batches:
        print(f"project {args.project}: no batches")
    for batch in batches:
        print(
            f"batch {batch['id']} ({batch['source']}, {batch['created_at']}): {batch['task_count']} tasks, "
            f"sample {batch['sample_done']}/{batch['sample_size']} {batch['status']}; " + _figures(batch)
        )
    return 0


def _line(batch_id: int, figures: dict[str, Any]) -> str:
    return f"batch {batch_id}: {figures['tasks_compared']} tasks compared; " + _figures(figures)


def _figures(figures: dict[str, Any]) -> str:
    if figures.get("kappa") is None:
        return "no figures yet"
    weak = [c["label"] for c in figures["per_category"] if c["below_threshold"]]
    f1 = figures.get("pairwise_f1")
    return (
        f"kappa {figures['kappa']:.3f}{_ci(figures.get('kappa_ci'))}, alpha {figures['alpha']:.3f}"
        f"{_ci(figures.get('alpha_ci'))}, raw agreement {figures['raw_agreement']:.3f}"
        + (f", pairwise F1 {f1:.3f}" if f1 is not None else "")
        + f"; below threshold: {', '.join(weak) or 'none'}"
    )


def _ci(ci: list[float] | None) -> str:
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
