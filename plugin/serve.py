"""``lsqa serve``: a small supervisor running the WSGI server (gunicorn, threaded) and the worker
as two child processes, so a stuck or crashed worker never blocks acknowledgements."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plugin.logs import mask_url_password
from plugin.settings import Settings

log = logging.getLogger(__name__)

WORKER_RESTART_DELAY = 2.0
WORKER_NICENESS = 10


def gunicorn_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        # gthread, with requests read in its event loop so slow clients never hold a thread;
        # server.read_timeout bounds how long they may take (webhooks/slowclients.py).
        "--worker-class",
        "webhooks.slowclients.BufferingThreadWorker",
        "--workers",
        str(settings["server.workers"]),
        "--threads",
        str(settings["server.threads"]),
        "--bind",
        f"{settings['server.host']}:{settings['server.port']}",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--backlog",
        "2048",
        "--log-level",
        settings["logging.level"].lower(),
        "webhooks.wsgi:app",
    ]


def _lower_priority() -> None:
    # Acknowledging webhooks is what annotators wait for; the worker can lag behind a burst.
    os.nice(WORKER_NICENESS)


def worker_command(config_path: str | None) -> list[str]:
    command = [sys.executable, "-m", "plugin.cli", "worker"]
    return command + (["--config", config_path] if config_path else [])


def serve(settings: Settings) -> int:
    config_path = str(Path(settings.source).resolve()) if settings.source else None
    env = dict(os.environ, LSQA_CONFIG=config_path or "")
    web = subprocess.Popen(gunicorn_command(settings), env=env)
    worker = (
        subprocess.Popen(worker_command(config_path), env=env, preexec_fn=_lower_priority)
        if settings["worker.enabled"]
        else None
    )
    log.info(
        "listening on http://%s:%s (webhook %s)",
        settings["server.host"],
        settings["server.port"],
        mask_url_password(settings.webhook_url),
    )
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in (web, worker):
            if child and child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while web.poll() is None:
        if worker is not None and worker.poll() is not None and not stopping:
            log.error("worker exited with %s; restarting it", worker.returncode)
            time.sleep(WORKER_RESTART_DELAY)
            worker = subprocess.Popen(worker_command(config_path), env=env, preexec_fn=_lower_priority)
        time.sleep(0.2)
    if worker is not None and worker.poll() is None:
        worker.terminate()
        worker.wait(timeout=15)
    return 0 if stopping else (web.returncode or 1)
