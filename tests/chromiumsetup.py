"""Headless Chromium for the dashboard tests: a Chromium or Chrome and a matching chromedriver on PATH.

Like the Label Studio harness, the test run installs what it needs: when they are missing and we are
root with apt-get (CI, the dev machines), Debian's ``chromium`` and ``chromium-driver`` are installed
in the background from the moment the browser tests are collected (``start_background_install`` at
their import), so the download overlaps with the other tests. Where that is impossible (a laptop, not
root) the browser tests are skipped with one line saying what to install; CI (``CI=true``) fails
instead, so a broken install never passes as a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER = "chromedriver"
PACKAGES = ("chromium", "chromium-driver")
WHAT_TO_INSTALL = (
    "browser tests need Chromium and chromedriver on PATH: apt-get install chromium chromium-driver "
    "(Debian/Ubuntu), brew install --cask chromium chromedriver (macOS), or Chrome + its chromedriver"
)

_install: dict[str, object] = {}


def _found() -> tuple[str, str] | None:
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which(CHROMEDRIVER)
    return (browser, driver) if browser and driver else None


def _present() -> bool:
    return _found() is not None


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
    found = _found()
    if found:
        return found
    run = _install.get("result")
    if isinstance(run, subprocess.CompletedProcess) or os.environ.get("CI") == "true":
        tried = isinstance(run, subprocess.CompletedProcess)
        detail = f"; installing them failed:\n{run.stderr[-2000:]}" if tried else " (CI never skips them)"
        pytest.fail(WHAT_TO_INSTALL + detail, pytrace=False)
    pytest.skip(WHAT_TO_INSTALL)
