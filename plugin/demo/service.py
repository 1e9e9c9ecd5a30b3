"""``lsqa serve`` as a child of the demo: started in its own process group, stopped as a whole."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests


class ServiceStartError(RuntimeError):
    """The service did not become healthy; the message ends with the tail of its log."""


class ServiceProcess:
    """The service (supervisor, gunicorn and worker) with its log in ``log_path``.

    It runs in a session of its own, so a Ctrl-C in the terminal reaches only the demo, which then
    stops the service before Label Studio (stopping Label Studio first would make the worker log
    connection errors on the way out).
    """

    def __init__(self, config: Path, base_url: str, log_path: Path) -> None:
        self.config = config
        self.base_url = base_url
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        command = [sys.executable, "-m", "plugin.cli", "--config", str(self.config), "serve"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.config.parent,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _healthy(self.base_url):
                return self
            time.sleep(0.2)
        self.stop()
        raise ServiceStartError(f"lsqa serve did not start; see {self.log_path}:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the whole group (serve also forwards it to its children), then SIGKILL to
        whatever is left after ``timeout``."""
        process, self.process = self.process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None or _group_alive(process.pid):
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
