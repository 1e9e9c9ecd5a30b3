"""Install a pinned Label Studio into its own cached virtualenv, once per machine.

Label Studio pins hundreds of packages (Django, DRF, ...) that must not mix with ours, so it lives in a
separate venv at ``<cache>/ls-<version>``. Installing takes minutes; a marker file written only after a
successful install makes a half-done install (killed CI job, full disk) be redone instead of trusted, and an
``fcntl`` lock keeps two pytest processes from installing into the same directory at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The version the tests and the demo run against; LSQA_LS_VERSION picks another (bench/compat.py runs the
# real-server tests against each supported release this way).
NEWEST_TESTED_VERSION = "1.23.2"
DEFAULT_VERSION = os.environ.get("LSQA_LS_VERSION") or NEWEST_TESTED_VERSION
MARKER_NAME = ".lsqa-installed"


class InstallError(RuntimeError):
    """Label Studio could not be installed; the message ends with the tail of the pip log."""


def default_cache_dir() -> Path:
    """``$LSQA_LS_CACHE`` or ``~/.cache/label-studio-qa``."""
    env = os.environ.get("LSQA_LS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "label-studio-qa"


def venv_dir(version: str = DEFAULT_VERSION, cache_dir: Path | str | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / f"ls-{version}"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_installed(venv: Path, version: str) -> bool:
    marker = venv / MARKER_NAME
    return (
        (venv / "bin" / "label-studio").exists() and marker.exists() and marker.read_text().strip() == version
    )


def is_installed(version: str = DEFAULT_VERSION, cache_dir: Path | str | None = None) -> bool:
    """Whether ``version`` is installed completely in the cache (its marker is written last)."""
    return _is_installed(venv_dir(version, cache_dir), version)


def _run_logged(cmd: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise InstallError(f"{cmd[0]} exited {result.returncode}; see {log}:\n" + "\n".join(tail))


def ensure_label_studio(version: str = DEFAULT_VERSION, cache_dir: Path | str | None = None) -> Path:
    """Return the path of the ``label-studio`` executable for ``version``, installing it first if needed.

    Safe to call from several processes at once: the first one installs, the others wait on the lock and then
    find the marker.
    """
    venv = venv_dir(version, cache_dir)
    exe = venv / "bin" / "label-studio"
    if _is_installed(venv, version):
        return exe
    with file_lock(venv.parent / f"ls-{version}.lock"):
        if _is_installed(venv, version):
            return exe
        if venv.exists():
            shutil.rmtree(venv)  # a previous install died half way: start over
        log = venv.parent / f"ls-{version}.install.log"
        log.write_text("")
        _run_logged([sys.executable, "-m", "venv", str(venv)], log)
        _run_logged([str(venv / "bin" / "python"), "-m", "pip", "install", f"label-studio=={version}"], log)
        if not exe.exists():
            raise InstallError(f"pip finished but {exe} does not exist; see {log}")
        (venv / MARKER_NAME).write_text(version + "\n")
    return exe
