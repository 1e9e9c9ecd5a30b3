"""``lsqa audit-log export|verify``: hand the audit trail to an auditor, and check it is intact."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

from plugin.audit.trail_chain import Verdict, verify_rows
from plugin.audit.trail_io import (
    FORMATS,
    TrailFileError,
    format_of,
    iter_rows,
    read_rows,
    verify_store,
    write_rows,
)
from plugin.commands import Handler, StoreFactory, add_verb
from plugin.settings import Settings


def add_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``audit-log`` and its sub-commands; each handler has the ``func(settings, args)`` shape."""
    group = subparsers.add_parser("audit-log", help="export or verify the hash-chained audit trail")
    verbs = group.add_subparsers(dest="audit_log_command", required=True)

    def leaf(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return add_verb(verbs, name, handler, help_text, store_factory)

    export = leaf("export", _export, "write the audit trail as CSV or JSON Lines")
    export.add_argument("--format", choices=FORMATS, default="jsonl", help="csv or jsonl (default)")
    export.add_argument("--project", "-p", type=int, help="only this project's rows (not verifiable alone)")
    export.add_argument("--out", "-o", type=Path, help="file to write (default: standard output)")
    verify = leaf("verify", _verify, "check the hash chain; exit 1 naming the first bad row")
    verify.add_argument(
        "--file", type=Path, help="verify a full export (.csv or .jsonl) instead of the store"
    )


def _export(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    try:
        target: AbstractContextManager[IO[str]] = (
            args.out.open("w", encoding="utf-8", newline="") if args.out else nullcontext(sys.stdout)
        )
        with store_factory(settings) as store, store.read() as conn, target as out:
            count = write_rows(iter_rows(conn, project_id=args.project), out, args.format)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or type(exc).__name__}")
    if args.out:
        print(f"{count} audit rows written to {args.out}")
    return 0


def _verify(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    if args.file is not None:
        try:
            with args.file.open(encoding="utf-8", newline="") as handle:
                verdict = verify_rows(read_rows(handle, format_of(str(args.file))))
        except OSError as exc:
            return _fail(f"cannot read {args.file}: {exc.strerror or type(exc).__name__}")
        except (TrailFileError, UnicodeDecodeError) as exc:
            return _fail(f"{args.file}: {exc}")
        head = None
    else:
        with store_factory(settings) as store, store.read() as conn:
            verdict, head = verify_store(conn)
    print(describe(verdict, head))
    return 0 if verdict.ok else 1


def describe(verdict: Verdict, head: tuple[int, str] | None = None) -> str:
    """One line: ``audit trail OK: N rows ...`` or ``audit trail BROKEN at row S (problem): ...``."""
    if verdict.ok:
        anchor = f", head {head[1]}" if head is not None and verdict.rows else ""
        return f"audit trail OK: {verdict.rows} rows, hash chain intact{anchor}"
    return f"audit trail BROKEN at row {verdict.seq} ({verdict.problem}): {verdict.message}"


def _fail(message: str) -> int:
    print(f"lsqa: {message}", file=sys.stderr)
    return 2
