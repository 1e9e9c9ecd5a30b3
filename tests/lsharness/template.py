"""A migrated, empty Label Studio SQLite database kept in the cache and copied for each new server.

A first ``label-studio start`` spends about 60 s of its ~70 s running Django migrations. ``label-studio
version`` runs the same migrations (``server.main`` migrates before dispatching any command) and creates no
user, so its database is a clean template: the server started on a copy finds the schema up to date, creates
the admin user and organization itself, and answers ``/health`` in about 9 s. Only the ``.sqlite3`` file is
copied, so each server still generates its own ``SECRET_KEY`` (kept in ``<data dir>/.env``).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from .install import file_lock

DB_NAME = "label_studio.sqlite3"
MARKER_NAME = ".lsqa-migrated"


class TemplateError(RuntimeError):
    """Migrating the template database failed."""


def _template_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"ls-{version}-db-template"


def is_migrated(version: str, cache_dir: Path) -> bool:
    """Whether the template database for ``version`` is complete (its marker is written last)."""
    return (_template_dir(cache_dir, version) / MARKER_NAME).exists()


def ensure_migrated_db(exe: Path, version: str, cache_dir: Path, env: Mapping[str, str]) -> Path:
    """Return the cached template database for ``version``, creating it under a file lock if needed."""
    template_dir = _template_dir(cache_dir, version)
    db, marker = template_dir / DB_NAME, template_dir / MARKER_NAME
    if marker.exists():
        return db
    with file_lock(cache_dir / f"ls-{version}-db-template.lock"):
        if marker.exists():
            return db
        shutil.rmtree(template_dir, ignore_errors=True)
        template_dir.mkdir(parents=True)
        log = template_dir / "migrate.log"
        run_env = {**env, "LABEL_STUDIO_BASE_DATA_DIR": str(template_dir)}
        with open(log, "wb") as out:
            result = subprocess.run(
                [str(exe), "version"], env=run_env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if result.returncode != 0 or not db.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise TemplateError(f"`label-studio version` exited {result.returncode}; see {log}:\n{tail}")
        marker.write_text(version + "\n")
    return db


def seed_data_dir(data_dir: Path, template_db: Path) -> None:
    """Put a copy of the template database into an empty data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_db, data_dir / DB_NAME)
    # Label Studio leaves SQLite in rollback-journal mode with Django's 5 s lock timeout; with our
    # service syncing beside annotators, a reader could then wait out a writer and get a 500. WAL lets
    # readers and one writer run side by side (the mode is stored in the file, so it sticks).
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
