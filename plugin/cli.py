"""The ``lsqa`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from plugin import init_cli
from plugin.agreement import cli as agreement_cli
from plugin.audit import cli as audit_cli
from plugin.audit.trail_settings import record_settings_change
from plugin.demo import cli as demo_cli
from plugin.firstrun import SetupError, check_port_free, hint_for
from plugin.gold import GoldError
from plugin.gold.cli import add_gold_commands
from plugin.inbox_cli import add_commands as add_inbox_commands
from plugin.logs import configure_logging
from plugin.offline import cli as offline_cli
from plugin.relabel import cli as relabel_cli
from plugin.settings import ConfigError, Settings, load_settings
from plugin.store import Store, StoreError

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter

log = logging.getLogger("lsqa")


@contextmanager
def _store(settings: Settings, *, worker: bool = False) -> Iterator[Store]:
    """The migrated store, closed again when the command is done."""
    # The worker's commits skip the per-commit fsync: it syncs the log once per batch of events,
    # before marking them done in the inbox (Store.sync_database), so each fsync covers many
    # transactions and competes less with the receiver's for the disk.
    synchronous = "NORMAL" if worker else settings["database.sqlite_synchronous"]
    store = Store(settings["database.url"], sqlite_synchronous=synchronous)
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()


def _adapter(settings: Settings) -> LabelStudioAdapter:
    from plugin.labelstudio import LabelStudioAdapter  # the SDK is heavy to import; only when needed

    return LabelStudioAdapter.from_settings(settings)


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    from plugin.serve import serve

    check_port_free(settings["server.host"], settings["server.port"])
    with _store(settings) as store:  # migrate once, before any child process starts
        record_settings_change(store, settings)
    return serve(settings)


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    from plugin.worker import Worker

    stop = threading.Event()

    def request_stop(*_: object) -> None:
        # Ignore further signals first: a second SIGTERM (serve forwards one, a process-group kill
        # sends another) would otherwise re-enter Event.set() while it holds its lock: deadlock.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("worker started")
    with _store(settings, worker=True) as store:
        record_settings_change(store, settings)
        Worker(store, settings).run(stop)
    return 0


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    with _store(settings):
        print("store is at the newest schema")
    return 0


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.sync.cli import run_sync

    with _store(settings) as store, _adapter(settings) as adapter:
        print(run_sync(settings, store, adapter, args.project, full=args.full).describe())
    return 0


def cmd_connect(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.connect import connect_project, prove_round_trip
    from plugin.sync.cli import run_sync

    with _store(settings) as store, _adapter(settings) as adapter:
        report = connect_project(settings, store, adapter, args.project)
        print("\n".join(report.lines), flush=True)
        if not args.no_check:
            print(prove_round_trip(settings, store, adapter, args.project), flush=True)
        if not args.no_sync:
            print("initial sync: " + run_sync(settings, store, adapter, args.project).describe())
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.status import format_status, project_status

    with _store(settings) as store, store.read() as conn, store.inbox_read() as inbox_conn:
        status = project_status(conn, inbox_conn, args.project, settings["worker.stuck_after_seconds"])
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lsqa", description="Continuous annotation QA for Label Studio.")
    parser.add_argument(
        "--config",
        "-c",
        default=os.environ.get("LSQA_CONFIG") or None,
        help="YAML settings file (default: $LSQA_CONFIG; environment overrides apply)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Callable[[Settings, argparse.Namespace], int], str]] = {
        "serve": (cmd_serve, "run the webhook receiver (gunicorn) and the worker"),
        "worker": (cmd_worker, "run only the worker"),
        "migrate": (cmd_migrate, "create or upgrade the store's schema"),
        "sync": (cmd_sync, "reconcile the store with Label Studio for a project"),
        "connect": (cmd_connect, "check Label Studio and register this service's webhook on a project"),
        "status": (cmd_status, "show what the store holds for a project"),
    }
    for name, (func, help_text) in commands.items():
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--config", "-c", default=argparse.SUPPRESS, help="YAML settings file")
        command.set_defaults(func=func)
        if name in {"sync", "connect", "status"}:
            command.add_argument("--project", "-p", type=int, required=True, help="Label Studio project id")
        if name == "status":
            command.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "connect":
            command.add_argument("--no-sync", action="store_true", help="skip the initial sync")
            command.add_argument(
                "--no-check",
                action="store_true",
                help="skip the round trip (a test event from Label Studio to the running service)",
            )
        if name == "sync":
            command.add_argument("--full", action="store_true", help="list every task, not only changes")
    add_gold_commands(sub, _store)
    agreement_cli.add_commands(sub, _store)
    relabel_cli.add_commands(sub, _store)
    audit_cli.add_commands(sub, _store)
    offline_cli.add_commands(sub, _store)
    demo_cli.add_commands(sub)
    init_cli.add_commands(sub)
    add_inbox_commands(sub, _store)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "needs_settings", True):  # `lsqa audit` reads files; `lsqa demo` writes its own
        return int(args.func(None, args))
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"lsqa: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings["logging.level"])
    try:
        return args.func(settings, args)
    except (StoreError, GoldError) as exc:
        print(f"lsqa: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not isinstance(exc, SetupError) and type(exc).__name__ != "LabelStudioError":
            raise
        print(f"lsqa: {exc}", file=sys.stderr)
        if hint := hint_for(exc, settings["label_studio.url"]):
            print(f"lsqa: what to do: {hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
