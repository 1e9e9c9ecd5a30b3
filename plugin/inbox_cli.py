"""``lsqa inbox list|retry|drop``: the events the worker gave up on (parked as failed), and why.

An event is parked when it can never be read (at once) or when applying it failed
``worker.max_attempts`` times. ``retry`` puts parked events back in line with fresh attempts (after
a fix, say); ``drop`` gives up on them for good: the body is erased, the row and its dedupe key
stay, so a redelivery of the same body is still a duplicate. Bodies are never printed.
"""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection

from plugin.commands import StoreFactory, add_verb
from plugin.settings import Settings
from plugin.store.inbox import ParkedEvent, drop_parked, list_parked, retry_parked


def add_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``inbox`` and its sub-commands; each handler has the ``func(settings, args)`` shape."""
    inbox = subparsers.add_parser("inbox", help="events parked as failed: list, retry, drop")
    verbs = inbox.add_subparsers(dest="inbox_command", required=True)
    listing = add_verb(verbs, "list", _list, "list parked events and why they failed", store_factory)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--limit", type=int, default=None, help="show at most this many")
    for name, handler, help_text in (
        ("retry", _retry, "put parked events back in line, with fresh attempts"),
        ("drop", _drop, "give up on parked events for good (their bodies are erased)"),
    ):
        command = add_verb(verbs, name, handler, help_text, store_factory)
        command.add_argument("ids", nargs="*", type=int, metavar="ID", help="parked event ids")
        command.add_argument("--all", action="store_true", help="every parked event")


def _list(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store, store.inbox_read() as conn:
        parked = list_parked(conn, args.limit)
    if args.json:
        print(json.dumps([_as_json(event) for event in parked], indent=2))
    elif not parked:
        print("no parked events")
    else:
        for event in parked:
            project = event.project_id if event.project_id is not None else "-"
            print(
                f"{event.id}  {event.action}  project {project}  received {event.received_at.isoformat()}"
                f"  attempts {event.attempts}\n    {event.error or 'no error recorded'}"
            )
    return 0


def _as_json(event: ParkedEvent) -> dict[str, Any]:
    return {**asdict(event), "received_at": event.received_at.isoformat()}


def _retry(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    return _change(settings, args, store_factory, retry_parked, "back in line")


def _drop(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    by = f"lsqa inbox drop on {socket.gethostname()}"
    return _change(settings, args, store_factory, lambda conn, ids: drop_parked(conn, ids, by), "dropped")


def _change(
    settings: Settings,
    args: argparse.Namespace,
    store_factory: StoreFactory,
    change: Callable[[Connection, list[int] | None], int],
    outcome: str,
) -> int:
    """Apply ``change`` to the named parked events (or all); exit 1 if a named one is not parked."""
    if bool(args.all) == bool(args.ids):
        print(f"lsqa: inbox {args.inbox_command}: give event ids or --all (not both)")
        return 2
    ids = None if args.all else sorted(set(args.ids))
    with store_factory(settings) as store, store.inbox_begin() as conn:
        n = change(conn, ids)
    print(f"{n} parked event(s) {outcome}")
    if ids is not None and n < len(ids):
        print(f"lsqa: {len(ids) - n} of the ids given are not parked events (see `lsqa inbox list`)")
        return 1
    return 0
