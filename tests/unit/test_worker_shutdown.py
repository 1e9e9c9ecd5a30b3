"""`lsqa worker` and `lsqa serve` stop on SIGTERM, even when several arrive at once."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from servicefixtures import ROOT, ServiceProcess


def test_worker_exits_on_a_burst_of_sigterms(sqlite_url, tmp_path: Path):
    config = tmp_path / "w.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:1\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef\n"
        f"database:\n  url: {sqlite_url}\nworker:\n  sync_interval: 0\n"
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plugin.cli", "--config", str(config), "worker"], cwd=ROOT, stderr=out
        )
    deadline = time.monotonic() + 30
    while b"worker started" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(20):  # what serve's forwarding plus a process-group kill can add up to
        os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


@pytest.mark.parametrize("repeat", [1, 2])
def test_serve_leaves_no_process_behind(sqlite_url, tmp_path, repeat):
    service = ServiceProcess(tmp_path, sqlite_url, extra="worker:\n  sync_interval: 0\n").start()
    children = psutil.Process(service.proc.pid).children(recursive=True)
    assert len(children) >= 2  # the web server and the worker
    for _ in range(repeat):
        os.killpg(service.proc.pid, signal.SIGTERM)
    service.proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [p.cmdline() for p in alive]
