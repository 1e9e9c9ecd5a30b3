"""Benchmark ``lsqa audit`` on a large box export against the goal: 180,000 tasks x 10 boxes
(about 600 MB) in under 2 minutes and under 4 GB of memory.

Run: ``.venv/bin/python bench/bench_audit.py [--tasks 180000] [--boxes 10] [--gold-share 0.04]``.
The export and its gold export are generated into a temporary directory (streamed in chunks, fixed
seed, DOMAIN.md's reference error profile). Then, each in its own process so that wall time and peak
RSS are its own (``os.wait4``):

- baseline: plain ``ijson.items`` iteration over the export (the C backend, floats), i.e. the cost of
  just reading the file incrementally;
- ours: ``lsqa audit --export ... --gold ... --out ... --html ...``.

The ratio ours / baseline says what the audit adds on top of reading. CPU time is printed too:
wall time on a shared machine depends on its load (printed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plugin.offline.synthetic import write_box_export_files

GOAL_SECONDS = 120.0
GOAL_BYTES = 4 * 1024**3

BASELINE = """
import sys, ijson
n = 0
with open(sys.argv[1], "rb") as f:
    for task in ijson.items(f, "item", use_float=True):
        n += len(task["annotations"][0]["result"])
print(n)
"""


def run_measured(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in bytes and stdout of a child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    err = child.stderr.read() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({child.returncode}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, out  # maxrss: KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=180_000)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--gold-share", type=float, default=0.04)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    lsqa = str(Path(sys.executable).with_name("lsqa"))
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        folder = Path(tmp)
        export, gold = folder / "export.json", folder / "gold.json"
        start = time.perf_counter()
        truth = write_box_export_files(
            export,
            gold,
            n_tasks=args.tasks,
            boxes_per_task=args.boxes,
            gold_share=args.gold_share,
            seed=args.seed,
        )
        generated = time.perf_counter() - start
        size = export.stat().st_size
        print(
            f"generated {args.tasks:,} tasks x {args.boxes} boxes: {size / 1e6:,.0f} MB export, "
            f"{gold.stat().st_size / 1e6:,.1f} MB gold ({truth.records:,} tasks) in {generated:.1f} s"
        )
        base_wall, base_cpu, base_rss, boxes = run_measured([sys.executable, "-c", BASELINE, str(export)])
        print(f"{'':22}{'wall':>8} {'CPU':>8} {'peak RSS':>10}")
        base = f"{base_wall:7.1f}s {base_cpu:7.1f}s {base_rss / 1e6:7.0f} MB"
        print(f"baseline ijson.items  {base}  ({int(boxes):,} boxes)")
        out, html = folder / "report.json", folder / "report.html"
        argv = [lsqa, "audit", "-q", "--export", str(export), "--gold", str(gold), "--out", str(out)]
        wall, cpu, rss, _ = run_measured([*argv, "--html", str(html)])
        ours = f"{wall:7.1f}s {cpu:7.1f}s {rss / 1e6:7.0f} MB"
        print(f"lsqa audit            {ours}  ({size / 1e6 / wall:.0f} MB/s)")
        print(
            f"ratio audit/baseline: wall {wall / base_wall:.2f}x, CPU {cpu / base_cpu:.2f}x, "
            f"memory {rss / base_rss:.2f}x"
        )
        report = json.loads(out.read_text())
        s = report["summary"]
        print(
            f"report: {s['records_compared']:,} records, error rate {s['error_rate']:.1%} "
            f"(planted {truth.error_rate:.1%}), IoU 0.70-0.85 {report['boundary']['share_iou_070_085']:.1%}, "
            f"strategy: {report['recommendation']['strategy']}"
        )
        ok = wall < GOAL_SECONDS and rss < GOAL_BYTES
        print(
            f"goal (< {GOAL_SECONDS:.0f} s, < {GOAL_BYTES / 1024**3:.0f} GiB): {'met' if ok else 'MISSED'}"
            f" ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
