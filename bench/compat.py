"""Which Label Studio releases the service works with: the real-Label-Studio integration tests,
run once against each release (installed once each into the harness's cache).

    .venv/bin/python bench/compat.py                      # 1.20.0 1.21.0 1.22.0 1.23.2
    .venv/bin/python bench/compat.py 1.22.0 -k connect    # one release, some tests

Prints one line per release (passed, failed, skipped, minutes) and the failing tests' ids, and exits
non-zero if any release failed. The README's "Supported Label Studio versions" comes from its output.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASES = ("1.20.0", "1.21.0", "1.22.0", "1.23.2")
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|error|errors)")


def run_release(version: str, extra: list[str]) -> tuple[dict[str, int], list[str], float]:
    """Run the integration tests against ``version``; counts by outcome, failing ids, minutes."""
    env = {**os.environ, "LSQA_LS_VERSION": version}
    command = [sys.executable, "-m", "pytest", "-m", "integration", "-q", "-rfE", "-p", "no:cacheprovider"]
    started = time.monotonic()
    run = subprocess.run(
        [*command, *extra, "tests/integration"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    minutes = (time.monotonic() - started) / 60
    lines = run.stdout.splitlines()
    summary = next((line for line in reversed(lines) if _COUNT.search(line)), "")
    counts = {outcome.rstrip("s"): int(n) for n, outcome in _COUNT.findall(summary)}
    failing = [
        line.split(" ", 1)[1].split(" - ")[0] for line in lines if line.startswith(("FAILED ", "ERROR "))
    ]
    if run.returncode not in (0, 1) and not counts:  # collection or harness failure: say why
        failing.append(f"pytest exited {run.returncode}: {(run.stderr or run.stdout)[-500:]}")
    return counts, failing, minutes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", default=list(RELEASES), help="Label Studio releases")
    parser.add_argument("-k", help="only tests matching this pytest expression")
    args = parser.parse_args(argv)
    extra = ["-k", args.k] if args.k else []
    ok = True
    print("| Label Studio | passed | failed | skipped | minutes |\n|---|---|---|---|---|", flush=True)
    failures: dict[str, list[str]] = {}
    for version in args.versions:
        counts, failing, minutes = run_release(version, extra)
        bad = counts.get("failed", 0) + counts.get("error", 0) or (0 if counts else 1)
        ok &= not bad
        print(
            f"| {version} | {counts.get('passed', 0)} | {bad} | {counts.get('skipped', 0)} | {minutes:.1f} |",
            flush=True,
        )
        failures[version] = failing
    for version, failing in failures.items():
        for test in failing:
            print(f"{version}: {test}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
