"""Run the real service (`lsqa serve`) as a subprocess, the way a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-secret-0123456789"
API_TOKEN = "test-api-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``lsqa serve`` in its own process group, with its log kept for failing tests."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        label_studio_url: str = "http://127.0.0.1:1",
        api_key: str = "unused",
        port: int | None = None,
        extra: str = "",
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.base_url}/webhooks/label-studio"
        self.config = workdir / f"lsqa-{self.port}.yaml"
        self.config.write_text(
            f"label_studio:\n  url: {label_studio_url}\n  api_key: {api_key}\n"
            f"webhook:\n  secret: {SECRET}\n"
            f"api:\n  token: {API_TOKEN}\n"
            f"database:\n  url: {database_url}\n"
            f"server:\n  port: {self.port}\n" + extra
        )
        self.log = workdir / f"lsqa-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plugin.cli", "--config", str(self.config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def start(self, timeout: float = 180) -> ServiceProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "plugin.cli", "--config", str(self.config), "serve"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout  # imports and gunicorn's boot take long on a loaded machine
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.kill()  # no orphaned server or worker left behind by a failed start
        raise RuntimeError(f"lsqa serve did not start; log:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def post(self, body: bytes, timeout: float = 5) -> requests.Response:
        return requests.post(
            self.webhook_url,
            data=body,
            timeout=timeout,
            headers={"Content-Type": "application/json", "X-LSQA-Secret": SECRET},
        )
