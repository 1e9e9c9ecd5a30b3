"""``lsqa demo``: start everything, show where to look, simulate people, stop everything on Ctrl-C.

Order matters: the service runs and the project is connected before the tasks are imported, so the
import reaches the service as a webhook (a batch, for batch agreement), and the gold library is in
the store before anyone labels (new annotators start with onboarding gold).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from plugin.demo import content
from plugin.demo.config import DASHBOARD_USER, DemoSecrets, service_settings, write_config
from plugin.demo.progress import Progress
from plugin.demo.service import ServiceProcess
from plugin.demo.simulate import PROFILES, Pace, Profile, Tally, cast, work

if TYPE_CHECKING:
    from lsharness import Annotator, LabelStudioServer

PROJECT_TITLE = "Support tickets (lsqa demo)"
ADMIN_EMAIL = "admin@example.com"
STATE_FILE = "demo.json"


class DemoError(Exception):
    """The demo cannot start as asked; one line for the user."""


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path | None = None
    port: int = 8787
    duration: float = 300.0
    exit_after: bool = False
    tasks: int = 600
    gold_items: int = 60
    pace: float = 3.0
    report_every: float = 15.0
    annotators: int = len(PROFILES)

    @property
    def cast(self) -> tuple[Profile, ...]:
        return cast(self.annotators)


@dataclass
class DemoState:
    """What the demo started and where to reach it; written to ``demo.json`` for scripts and tests."""

    data_dir: str
    label_studio_url: str
    admin_email: str
    admin_password: str
    project_id: int
    service_url: str
    api_token: str
    dashboard_url: str | None
    dashboard_user: str | None
    dashboard_password: str | None
    config: str
    database_url: str
    annotators: list[dict[str, Any]]


def run_demo(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo; returns the exit status. Ctrl-C (or SIGTERM) stops everything it started."""
    _check_port_free(options.port)
    with _interrupt_on_sigterm(), ExitStack() as stack:
        data_dir = _prepare_data_dir(options.data_dir, stack)
        say = _printer(out)
        try:
            try:
                state, people, truth = _start_everything(options, data_dir, stack, say)
            except (KeyboardInterrupt, DemoError):
                raise
            except Exception as exc:  # one line for the user, as every lsqa command does
                keep = "" if options.data_dir else " (use --data-dir to keep the logs)"
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise DemoError(f"could not start: {type(exc).__name__}: {first}{keep}") from None
            _simulate(options, state, people, truth, say)
            if not options.exit_after:
                say("The simulation is over; everything keeps running until you press Ctrl-C.")
                while True:
                    time.sleep(60)
        except KeyboardInterrupt:
            say("\nStopping: simulated annotators, the QA service, Label Studio ...")
        finally:
            with _signals_ignored():  # a second Ctrl-C must not cut the clean-up short
                stack.close()
        say("Stopped everything the demo started.")
    return 0


def _start_everything(
    options: DemoOptions, data_dir: Path, stack: ExitStack, say: Any
) -> tuple[DemoState, list[Annotator], dict[str, str]]:
    from lsharness import LabelStudioServer, default_cache_dir

    admin_password = secrets.token_urlsafe(12)
    say(f"[1/5] Label Studio: starting (the first run installs it into {default_cache_dir()}: minutes)")
    ls = LabelStudioServer(
        data_dir=data_dir / "label-studio", admin_email=ADMIN_EMAIL, admin_password=admin_password
    )
    stack.callback(ls.stop)
    ls.start()
    say(f"      up at {ls.url} after {ls.startup_seconds:.0f} s")
    demo_secrets = DemoSecrets(
        webhook_secret=secrets.token_urlsafe(24),
        api_token=secrets.token_urlsafe(24),
        dashboard_password=secrets.token_urlsafe(9),
        session_secret=secrets.token_urlsafe(32),
    )
    database_url = f"sqlite:///{data_dir / 'lsqa.sqlite3'}"
    flat = service_settings(
        label_studio_url=ls.url,
        api_key=ls.admin_pat,
        database_url=database_url,
        port=options.port,
        secrets=demo_secrets,
    )
    config = write_config(data_dir / "lsqa.yaml", flat)
    say(f"[2/5] QA service: starting on port {options.port} (settings {config})")
    _migrate(database_url)
    service_url = f"http://127.0.0.1:{options.port}"
    service = ServiceProcess(config, service_url, data_dir / "lsqa.log")
    stack.callback(service.stop)
    service.start()
    say("[3/5] Demo project: creating it, connecting it, importing the gold library")
    project_id = ls.create_project(PROJECT_TITLE, content.LABEL_CONFIG)
    tasks, gold = content.make_demo_data(options.tasks, options.gold_items)
    _connect_and_import_gold(config, project_id, gold, data_dir)
    say(f"[4/5] Importing {len(tasks)} tasks; signing up {len(options.cast)} annotators")
    ls.import_tasks(project_id, [{"text": t.text} for t in tasks])
    people = [_sign_up(ls, profile.name, stack) for profile in options.cast]
    state = DemoState(
        data_dir=str(data_dir),
        label_studio_url=ls.url,
        admin_email=ADMIN_EMAIL,
        admin_password=admin_password,
        project_id=project_id,
        service_url=service_url,
        api_token=demo_secrets.api_token,
        # >>> COORDINATOR: the dashboard's entry URL (shown once its settings are declared).
        dashboard_url=f"{service_url}/dashboard/" if "dashboard.password" in flat else None,
        dashboard_user=DASHBOARD_USER if "dashboard.username" in flat else None,
        dashboard_password=flat.get("dashboard.password"),
        config=str(config),
        database_url=database_url,
        annotators=[
            {"email": p.email, "password": p.password, "id": p.id, "name": pr.name, "profile": pr.describe()}
            for p, pr in zip(people, options.cast, strict=True)
        ],
    )
    _write_private(data_dir / STATE_FILE, json.dumps(state.__dict__, indent=2))
    say(banner(state, temporary=options.data_dir is None))
    # The truth of every text, for the simulated people who "read" it (never sent anywhere).
    truth = {t.text: t.truth for t in tasks + gold}
    return state, people, truth


def _simulate(
    options: DemoOptions, state: DemoState, people: list[Annotator], truth: dict[str, str], say: Any
) -> None:
    say(f"[5/5] Simulating annotators for {options.duration:.0f} s (a task every ~{options.pace:g} s each)")
    stop = threading.Event()
    tallies = [Tally() for _ in people]
    threads = [
        threading.Thread(
            target=work,
            args=(person, profile),
            kwargs={
                "project_id": state.project_id,
                "truth": truth,
                "pace": Pace(options.pace),
                "stop": stop,
                "tally": tally,
                "seed": 100 + n,
            },
            name=f"demo-{profile.name}",
            daemon=True,
        )
        for n, (person, profile, tally) in enumerate(zip(people, options.cast, tallies, strict=True))
    ]
    names = {int(a["id"]): str(a["name"]) for a in state.annotators}
    progress = Progress(state.service_url, state.api_token, state.project_id, names)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads) and time.monotonic() - started < options.duration:
            stop.wait(min(options.report_every, max(0.1, options.duration - (time.monotonic() - started))))
            say(progress.line(time.monotonic() - started, sum(t.submitted for t in tallies)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        progress.close()
    done = sum(t.submitted for t in tallies)
    say(f"Simulation finished: {done} submissions in {time.monotonic() - started:.0f} s.")


def banner(state: DemoState, *, temporary: bool) -> str:
    """Where to look, with the logins. Secrets are printed on purpose: this is a local throwaway demo."""
    project = f"{state.label_studio_url}/projects/{state.project_id}/data"
    annotators = "\n".join(
        f"                 {a['email']} / {a['password']}  ({a['profile']})" for a in state.annotators
    )
    lines = [
        "",
        "The label-studio-qa demo is running.",
        f"  Label Studio   {state.label_studio_url}  log in as {state.admin_email} / {state.admin_password}",
        f"                 the demo project: {project}",
        f"  QA service     {state.service_url}  (API token {state.api_token})",
    ]
    if state.dashboard_url:
        login = f"{state.dashboard_user} / {state.dashboard_password}"
        lines.append(f"  Dashboard      {state.dashboard_url}  log in as {login}")
    lines += [
        "  Try            curl -s -H 'Authorization: Bearer "
        f"{state.api_token}' {state.service_url}/api/v1/projects/{state.project_id}/annotators",
        f"  Annotators\n{annotators}",
        f"  Files          {state.data_dir}"
        + ("  (removed at exit; --data-dir keeps them)" if temporary else ""),
        f"                 settings {state.config}, service log lsqa.log, Label Studio log in label-studio/",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


def _connect_and_import_gold(
    config: Path, project_id: int, gold: list[content.Ticket], data_dir: Path
) -> None:
    """``lsqa connect`` and ``lsqa gold import`` in-process, with the same code the commands run."""
    from plugin.connect import connect_project
    from plugin.gold.library import read_export
    from plugin.labelconfig import parse_label_config
    from plugin.labelstudio import LabelStudioAdapter
    from plugin.settings import load_settings
    from plugin.store import Store
    from plugin.store.gold import add_gold_items
    from plugin.sync import sync_project

    export = content.gold_export(gold)
    (data_dir / "gold-export.json").write_text(json.dumps(export, indent=1))
    settings = load_settings(config)
    store = Store(settings["database.url"])
    try:
        with LabelStudioAdapter.from_settings(settings) as adapter:
            connect_project(settings, store, adapter, project_id)
            sync_project(store, adapter, project_id)
        drafts = read_export(export, config=parse_label_config(content.LABEL_CONFIG)).drafts
        with store.begin() as conn:
            add_gold_items(conn, project_id, drafts, "import")
    finally:
        store.dispose()


def _migrate(database_url: str) -> None:
    from plugin.store import Store

    store = Store(database_url)
    try:
        store.migrate()
    finally:
        store.dispose()


def _sign_up(ls: LabelStudioServer, name: str, stack: ExitStack) -> Annotator:
    person = ls.create_annotator(email=f"{name}@example.com", password=secrets.token_urlsafe(9))
    stack.callback(person.close)
    return person


def _prepare_data_dir(requested: Path | None, stack: ExitStack) -> Path:
    if requested is None:
        path = Path(tempfile.mkdtemp(prefix="lsqa-demo-"))
        stack.callback(shutil.rmtree, path, ignore_errors=True)
        return path
    path = requested.expanduser().resolve()
    if path.exists() and any(path.iterdir()):
        raise DemoError(f"--data-dir {path} is not empty (a previous demo?); remove it or pick another")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(f"port {port} is in use; choose another with --port") from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _printer(out: TextIO | None) -> Any:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    return say


@contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (a KeyboardInterrupt in the main thread)."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
