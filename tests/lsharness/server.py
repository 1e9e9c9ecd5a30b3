"""A real, throwaway Label Studio server for tests and demos.

The process runs from the cached venv (:mod:`.install`) on a private data directory seeded with a
migrated database (:mod:`.template`), bound to 127.0.0.1 on a free port, in its own process group so
``stop()`` takes down everything it spawned. Environment choices are explained in :func:`server_env`.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from label_studio_sdk import LabelStudio

from ._http import ApiSession, SdkClient, login_session, mint_pat, signup_session
from .annotator import Annotator
from .install import DEFAULT_VERSION, default_cache_dir, ensure_label_studio, is_installed
from .template import ensure_migrated_db, is_migrated, seed_data_dir

# Label Studio reads `X`, `LABEL_STUDIO_X` and `HEARTEX_X` for many settings (HOST, PORT, DEBUG, USERNAME,
# ...), so only a known-harmless subset of our environment is passed on.
_INHERITED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_STARTED_RE = re.compile(r"Starting development server at (http://[^/\s]+)")
_annotator_numbers = itertools.count(1)


class ServerStartError(RuntimeError):
    """Label Studio did not become healthy; the message ends with the tail of its log."""


def server_env(data_dir: Path, admin_email: str, admin_password: str) -> dict[str, str]:
    """The environment of the Label Studio process.

    * ``LABEL_STUDIO_USERNAME``/``PASSWORD``: ``start`` creates this superuser and the organization.
    * ``SSRF_PROTECTION_ENABLED=false``: webhooks to 127.0.0.1 are refused otherwise (notes §1).
    * ``LATEST_VERSION_CHECK=false``: otherwise importing ``core.utils.common`` asks PyPI for the latest
      version at every start, which hangs without network.
    * ``COLLECT_ANALYTICS=false``: otherwise each API call posts usage data to tele.labelstud.io in a thread.
    * ``FEATURE_FLAGS_OFFLINE=true`` (the default, made explicit): flags come from the bundled file, not
      LaunchDarkly.
    * ``SENTRY_DSN=`` (empty): ``core/settings/label_studio.py`` defaults it to HumanSignal's project and
      then instruments every request with Sentry's Django integration; switching it off cut the server's CPU
      per request by about a third and halved request latency (bench: 40 next+submit, 30 copy calls).
      ``DEBUG`` is already off in those settings (``base.py``'s ``True`` is overridden there).
    """
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=admin_email,
        LABEL_STUDIO_PASSWORD=admin_password,
        SSRF_PROTECTION_ENABLED="false",
        LATEST_VERSION_CHECK="false",
        COLLECT_ANALYTICS="false",
        FEATURE_FLAGS_OFFLINE="true",
        SENTRY_DSN="",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_label_studio(
    version: str = DEFAULT_VERSION, cache_dir: Path | str | None = None, env: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Install Label Studio and build its migrated template database if either is missing (minutes on a
    fresh machine, instant afterwards); return the executable and the template. Both steps hold file locks,
    so a server started meanwhile waits for them instead of doing the work twice."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    exe = ensure_label_studio(version, cache)
    env = env if env is not None else server_env(cache, "admin@lsqa.test", "unused")
    return exe, ensure_migrated_db(exe, version, cache, env)


def is_prepared(version: str = DEFAULT_VERSION, cache_dir: Path | str | None = None) -> bool:
    """Whether :func:`prepare_label_studio` would find everything in place (cheap: two marker files)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    return is_installed(version, cache) and is_migrated(version, cache)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabelStudioServer:
    """Start with ``with LabelStudioServer() as ls:`` (or ``start()``/``stop()``); then use ``ls.url``,
    ``ls.admin`` (SDK client) and the helpers below."""

    def __init__(
        self,
        *,
        version: str = DEFAULT_VERSION,
        cache_dir: Path | str | None = None,
        data_dir: Path | str | None = None,
        admin_email: str = "admin@lsqa.test",
        admin_password: str | None = None,
        use_template: bool = True,
        extra_env: dict[str, str] | None = None,
        startup_timeout: float = 300.0,
        keep_data_dir: bool = False,
    ) -> None:
        self.version = version
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="lsqa-ls-"))
        self.admin_email = admin_email
        self.admin_password = admin_password or secrets.token_urlsafe(12)
        self.use_template = use_template
        self.extra_env = dict(extra_env or {})
        self.startup_timeout = startup_timeout
        self.keep_data_dir = keep_data_dir
        self.log_path = self.data_dir / "label-studio.log"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> LabelStudioServer:
        env = {**server_env(self.data_dir, self.admin_email, self.admin_password), **self.extra_env}
        if self.use_template and not (self.data_dir / "label_studio.sqlite3").exists():
            exe, template_db = prepare_label_studio(self.version, self.cache_dir, env)
            seed_data_dir(self.data_dir, template_db)
        else:
            exe = ensure_label_studio(self.version, self.cache_dir)
        cmd = [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(free_port())]
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._url = self._wait_until_healthy(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_until_healthy(self, deadline: float) -> str:
        """Poll until ``/health`` answers. The URL is read from the log, because ``label-studio start``
        silently moves to the next port if the chosen one got taken meanwhile."""
        assert self._process is not None
        url = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerStartError(
                    f"label-studio exited with {self._process.returncode}\n{self.log_tail()}"
                )
            if url is None and (match := _STARTED_RE.search(self.log_path.read_text(errors="replace"))):
                url = match.group(1)
            if url is not None and _is_healthy(url):
                return url
            time.sleep(0.2)
        raise ServerStartError(
            f"label-studio not healthy after {self.startup_timeout:.0f} s\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the server's whole process group; remove the data dir if this object created it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _kill_group(process)
        for name in ("api", "_admin_sdk"):
            if (client := self.__dict__.pop(name, None)) is not None:
                client.close()
        if self._own_data_dir and not self.keep_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Label Studio stops answering until the block ends (SIGSTOP/SIGCONT to its process group):
        calls hang and time out, like a server that is down or overloaded, and nothing is lost."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self._process.pid, signal.SIGCONT)

    def version_at_least(self, major: int, minor: int) -> bool:
        """Whether this server's release is ``major.minor`` or newer (tests of behaviour a release added)."""
        return tuple(int(p) for p in self.version.split(".")[:2]) >= (major, minor)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- admin identity -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("LabelStudioServer is not running; call start() first")
        return self._url

    @cached_property
    def admin_pat(self) -> str:
        """The admin's Personal Access Token, minted through a browser-style login (notes §0)."""
        with login_session(self.url, self.admin_email, self.admin_password) as session:
            return mint_pat(session, self.url)

    @cached_property
    def api(self) -> ApiSession:
        """Raw HTTP as the admin (Bearer from the PAT)."""
        return ApiSession(self.url, self.admin_pat)

    @cached_property
    def _admin_sdk(self) -> SdkClient:
        return SdkClient(self.url, self.admin_pat)

    @property
    def admin(self) -> LabelStudio:
        """``label_studio_sdk.LabelStudio`` client authenticated with the admin's PAT."""
        return self._admin_sdk.sdk

    def enable_legacy_tokens(self) -> str:
        """Turn on legacy ``Token`` auth (off by default in 1.23, notes §0); return the admin's key."""
        self.api.json(
            "POST", "/api/jwt/settings", json={"api_tokens_enabled": True, "legacy_api_tokens_enabled": True}
        )
        return str(self.api.json("GET", "/api/current-user/token")["token"])

    # -- helpers --------------------------------------------------------------------------------------------

    def create_project(self, title: str, label_config: str, **settings: Any) -> int:
        """Create a project (title needs at least 3 characters) and return its id."""
        body = {"title": title, "label_config": label_config, **settings}
        return int(self.api.json("POST", "/api/projects/", json=body)["id"])

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks as the UI does; return the created ids (``return_task_ids`` works on 1.23.2)."""
        answer = self.api.json("POST", f"/api/projects/{project_id}/import?return_task_ids=true", json=tasks)
        return [int(task_id) for task_id in answer["task_ids"]]

    def list_task_ids(self, project_id: int) -> list[int]:
        ids: list[int] = []
        for page in itertools.count(1):
            query = f"project={project_id}&fields=task_only&page={page}&page_size=1000"
            answer = self.api.json("GET", f"/api/tasks/?{query}")
            ids.extend(int(task["id"]) for task in answer["tasks"])
            if not answer["tasks"] or len(ids) >= answer["total"]:
                return ids
        raise AssertionError("unreachable")

    def delete_tasks(self, project_id: int, ids: list[int]) -> None:
        """Delete tasks through the Data Manager action, which sends TASKS_DELETED for the project."""
        body = {"selectedItems": {"all": False, "included": list(ids)}}
        self.api.json("POST", f"/api/dm/actions?id=delete_tasks&project={project_id}", json=body)

    def delete_annotation(self, annotation_id: int) -> None:
        self.api.json("DELETE", f"/api/annotations/{annotation_id}/")

    def create_annotator(self, email: str | None = None, password: str | None = None) -> Annotator:
        """A new user who joins through the organization's invite link, with their own PAT (notes §2)."""
        email = email or f"annotator{next(_annotator_numbers)}-{secrets.token_hex(3)}@lsqa.test"
        password = password or secrets.token_urlsafe(12)
        invite_token = str(self.api.json("GET", "/api/invite")["token"])
        with signup_session(self.url, invite_token, email, password) as session:
            pat = mint_pat(session, self.url)
        return Annotator.from_pat(self.url, email=email, password=password, pat=pat)


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the server when the thread that started it dies, so a killed test run (SIGKILL,
    CI timeout) leaves no orphaned Label Studio behind. Runs in the child between fork and exec."""
    if hasattr(os, "sched_getaffinity"):  # Linux only; elsewhere stop() and the context manager must do
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _is_healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
