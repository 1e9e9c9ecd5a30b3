"""``lsqa audit`` (an export against a gold export, offline) and ``lsqa report`` (a project, live).

Both print a short summary and write the same report keys; input problems end with one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugin.commands import StoreFactory
from plugin.gold.library import PICK_POLICIES
from plugin.offline.reader import AuditInputError
from plugin.settings import Settings


def add_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``audit`` and ``report``; each handler has the ``func(settings, args)`` shape."""
    audit = subparsers.add_parser(
        "audit", help="one-off QA audit of a Label Studio JSON export against a gold export"
    )
    audit.add_argument("--config", "-c", default=argparse.SUPPRESS, help="YAML settings file (unused)")
    audit.add_argument("--export", type=Path, required=True, help="Label Studio JSON export to audit")
    audit.add_argument("--gold", type=Path, required=True, help="Label Studio JSON export of the gold set")
    audit.add_argument("--label-config", type=Path, help="label config XML (default: inferred from gold)")
    audit.add_argument("--match-on", metavar="DATA_KEY", help="match gold by this data key, not the task id")
    audit.add_argument(
        "--pick",
        choices=PICK_POLICIES,
        default="latest",
        help="gold tasks without exactly one ground-truth annotation: "
        "latest (default), earliest, skip or error",
    )
    audit.add_argument("--out", type=Path, required=True, help="where the JSON report goes")
    audit.add_argument("--html", type=Path, help="also write a self-contained HTML report")
    audit.add_argument("--records-out", type=Path, help="CSV of every record with an error (to relabel)")
    audit.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    # An offline audit reads files only: it must work without Label Studio or store settings.
    audit.set_defaults(func=_audit, needs_settings=False)

    report = subparsers.add_parser("report", help="the QA report of a project from its live gold answers")
    report.add_argument("--config", "-c", default=argparse.SUPPRESS, help="YAML settings file")
    report.add_argument("--project", "-p", type=int, required=True, help="Label Studio project id")
    report.add_argument("--json", action="store_true", help="print the JSON report")
    report.add_argument("--out", type=Path, help="also write the JSON report to this file")
    report.add_argument("--html", type=Path, help="also write a self-contained HTML report")
    report.set_defaults(func=lambda settings, args: _report(settings, args, store_factory))


def _audit(_settings: Settings | None, args: argparse.Namespace) -> int:
    from plugin.offline.run import run_audit

    try:
        report, tally = run_audit(
            args.export,
            args.gold,
            label_config=args.label_config,
            match_on=args.match_on,
            pick=args.pick,
            progress=False if args.quiet else None,
        )
        _write_outputs(report, args.out, args.html, title=f"QA audit of {args.export.name}")
        if args.records_out:
            from plugin.offline.report import worst_records

            _write(args.records_out, lambda f: _records_csv(f, worst_records(tally.flagged)))
    except AuditInputError as exc:
        print(f"lsqa: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(format_summary(report))
    return 0


def _report(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    from plugin.offline.live import UnknownProject, live_report

    try:
        with store_factory(settings) as store, store.read() as conn:
            report = live_report(conn, args.project)
        _write_outputs(report, args.out, args.html, title=f"QA report of project {args.project}")
    except (UnknownProject, AuditInputError) as exc:
        print(f"lsqa: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_summary(report))
    return 0


def _write_outputs(report: dict[str, Any], out: Path | None, html: Path | None, *, title: str) -> None:
    if out is not None:
        _write(out, lambda f: json.dump(report, f, indent=2))
    if html is not None:
        from plugin.offline.html import render_html

        _write(html, lambda f: f.write(render_html(report, title=title)))


def _write(path: Path, writer: Callable[[Any], Any]) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            writer(f)
    except OSError as exc:
        raise AuditInputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None


def _records_csv(f: Any, records: list[Any]) -> None:
    writer = csv.writer(f)
    writer.writerow(["record", "annotator", "units", "errors", "missing", "extras"])
    for r in records:
        writer.writerow([r.record, r.annotator, r.units, r.errors, r.missing, r.extras])


def format_summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal: the headline figures and the recommendation."""
    s, b, plan = report["summary"], report["boundary"], report["recommendation"]
    lines = [
        f"records compared: {s['records_compared']}, gold units: {s['gold_units']}, "
        f"label error: {s['error_rate']:.1%} ({s['errors']} errors, {s['missing']} missing)",
    ]
    worst = [c for c in report["per_class"] if c.get("flagged")] or report["per_class"][:2]
    if worst:
        lines.append("worst classes: " + ", ".join(f"{c['label']} {c['error_rate']:.1%}" for c in worst))
    people = [a for a in report["per_annotator"] if a.get("flagged")]
    if people:
        share = sum(a["error_share"] for a in people)
        lines.append(
            f"annotators {', '.join(str(a['annotator']) for a in people)} cause {share:.0%} of errors"
        )
    if b["matched_regions"]:
        lines.append(
            f"boundary: {b['matched_regions']} matched regions, {b['share_iou_070_085']:.1%} at 0.70-0.85"
        )
    lines.append(f"recommendation: {plan['strategy'] or 'none'}")
    lines += [f"  - {reason}" for reason in plan["reasons"]]
    return "\n".join(lines)
