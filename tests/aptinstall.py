"""Installing Debian packages a test needs, when it can: as root, with apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess

# Other test runs may be installing too (chromium for the browser tests): wait for their lock.
LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=600")


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(packages: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """``apt-get install`` (refreshing stale package lists once if it fails); the run, for its stderr."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *LOCK_WAIT, *packages]
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:  # stale package lists on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return run
