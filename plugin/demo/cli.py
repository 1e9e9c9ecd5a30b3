"""``lsqa demo``: registered like the feature commands, but it needs no settings file (it writes one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from plugin.demo.simulate import PROFILES


def add_commands(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="start Label Studio, the service and simulated annotators locally, to watch QA work",
        description="Installs (once, cached) and starts a local Label Studio, starts the QA service on "
        "SQLite, creates a demo project with a gold library and runs simulated annotators, one of "
        "whom mislabels one class. Prints the URLs and logins. Ctrl-C stops everything it started.",
    )
    demo.add_argument("--data-dir", type=Path, help="keep everything here (default: a temporary directory)")
    demo.add_argument("--port", type=int, default=8787, help="port of the QA service (default 8787)")
    demo.add_argument(
        "--duration", type=float, default=300.0, help="seconds of simulated labeling (default 300)"
    )
    demo.add_argument(
        "--exit-after", action="store_true", help="stop everything when the simulation ends (for scripts)"
    )
    demo.add_argument("--tasks", type=int, default=600, help="tasks in the demo project (default 600)")
    demo.add_argument(
        "--pace", type=float, default=3.0, help="seconds each annotator spends on a task (default 3)"
    )
    demo.add_argument(
        "--annotators",
        type=int,
        default=len(PROFILES),
        help=f"simulated annotators, 2-{len(PROFILES)}, one of them confused (default {len(PROFILES)})",
    )
    demo.add_argument(
        "--report-every", type=float, default=15.0, help="seconds between progress lines (default 15)"
    )
    demo.set_defaults(func=cmd_demo, needs_settings=False)


def cmd_demo(_settings: None, args: argparse.Namespace) -> int:
    from plugin.demo.run import DemoError, DemoOptions, run_demo
    from plugin.logs import configure_logging

    configure_logging("WARNING")  # the demo prints its own progress; log lines only for trouble

    if args.tasks < 1 or args.duration <= 0 or args.pace < 0 or not 2 <= args.annotators <= len(PROFILES):
        print(
            f"lsqa demo: --tasks and --duration must be positive, --pace not negative, "
            f"--annotators 2 to {len(PROFILES)}",
            file=sys.stderr,
        )
        return 2
    options = DemoOptions(
        data_dir=args.data_dir,
        port=args.port,
        duration=args.duration,
        exit_after=args.exit_after,
        tasks=args.tasks,
        pace=args.pace,
        report_every=args.report_every,
        annotators=args.annotators,
    )
    try:
        return run_demo(options)
    except DemoError as exc:
        print(f"lsqa demo: {exc}", file=sys.stderr)
        return 2
