"""Headless Chromium for the dashboard tests: Debian's ``chromium`` and ``chromium-driver``.

Like the Label Studio harness, the test run installs what it needs: when the packages are missing
and we are root with apt-get, they are installed in the background from the moment the browser
tests are collected (``start_background_install`` at their import), so the download overlaps with
the other tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PACKAGES = ("chromium", "chromium-driver")

_install: dict[str, object] = {}


def _present() -> bool:
    return bool(shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))


def _apt_install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:  # stale package lists on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    _install["result"] = run


def _can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def start_background_install() -> None:
    if not _present() and _can_install() and "thread" not in _install:
        thread = threading.Thread(target=_apt_install, name="apt-chromium", daemon=True)
        _install["thread"] = thread
        thread.start()


def chromium_paths() -> tuple[str, str]:
    """Wait for the background install (if any); the browser's and the driver's paths."""
    thread = _install.get("thread")
    if isinstance(thread, threading.Thread):
        thread.join(timeout=900)
    elif not _present() and _can_install():
        _apt_install()
    run = _install.get("result")
    detail = f"\n{run.stderr[-2000:]}" if isinstance(run, subprocess.CompletedProcess) else ""
    assert _present(), f"needs Debian's chromium: apt-get install -y {' '.join(PACKAGES)}{detail}"
    return CHROMIUM, CHROMEDRIVER
