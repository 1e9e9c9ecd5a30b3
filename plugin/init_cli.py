"""``lsqa init``: a settings file for a new installation, with every secret generated.

Asks for (or takes as flags) what only the admin knows -- Label Studio's URL and the service
account's token -- and generates the rest: the webhook secret, the JSON API token and the dashboard
login. The file is created readable by its owner only and never over an existing one.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from plugin.demo.config import write_config
from plugin.settings import ConfigError, load_settings

HEADER = (
    "# Written by `lsqa init`. It holds secrets: keep it readable by you only (it was created 0600).\n"
    '# Every other setting and its default: config.example.yaml and README "Settings".\n'
)
DEFAULT_LS_URL = "http://127.0.0.1:8080"


def add_commands(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init",
        help="write a settings file with generated secrets, then say how to serve and connect",
        description="Writes a settings file for this service: Label Studio's URL and the service "
        "account's Personal Access Token (asked for, or given as flags), and a generated webhook "
        "secret, JSON API token and dashboard login. Never overwrites a file.",
    )
    init.add_argument("path", nargs="?", type=Path, default=Path("lsqa.yaml"), help="default: lsqa.yaml")
    init.add_argument("--label-studio-url", help=f"Label Studio's base URL (default {DEFAULT_LS_URL})")
    init.add_argument("--api-key", help="Personal Access Token of the service account (asked if missing)")
    init.add_argument("--public-url", help="address at which Label Studio reaches this service")
    init.add_argument("--database-url", help="store URL (default: a SQLite file beside the settings)")
    init.add_argument("--port", type=int, default=8787, help="port of the service (default 8787)")
    init.add_argument("--dashboard-user", default="admin", help="dashboard login name (default admin)")
    init.add_argument("--no-input", action="store_true", help="ask nothing; leave missing values to the env")
    init.set_defaults(func=cmd_init, needs_settings=False)


def _ask(question: str, default: str | None, args: argparse.Namespace) -> str | None:
    if args.no_input or not sys.stdin.isatty():
        return default
    answer = input(f"{question}{f' [{default}]' if default else ''}: ").strip()
    return answer or default


def initial_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The flat settings ``lsqa init`` writes (secrets freshly generated)."""
    url = args.label_studio_url or _ask("Label Studio URL", DEFAULT_LS_URL, args)
    api_key = args.api_key or _ask(
        "Personal Access Token of the service account (empty: use the env)", None, args
    )
    database = args.database_url or f"sqlite:///{args.path.resolve().with_suffix('.db')}"
    flat: dict[str, Any] = {"label_studio.url": url}
    if api_key:
        flat["label_studio.api_key"] = api_key
    flat["webhook.secret"] = secrets.token_urlsafe(24)
    if args.public_url:
        flat["webhook.public_url"] = args.public_url
    flat.update(
        {
            "database.url": database,
            "server.port": args.port,
            "api.token": secrets.token_urlsafe(32),
            "dashboard.username": args.dashboard_user,
            "dashboard.password": secrets.token_urlsafe(12),
            "dashboard.session_secret": secrets.token_urlsafe(48),
        }
    )
    return flat


def cmd_init(_settings: None, args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists():
        print(
            f"lsqa init: {path} exists; not overwritten (choose another path or remove it)", file=sys.stderr
        )
        return 1
    flat = initial_settings(args)
    try:
        write_config(path, flat, header=HEADER, exclusive=True)
    except FileExistsError:
        print(f"lsqa init: {path} appeared meanwhile; not overwritten", file=sys.stderr)
        return 1
    print(f"wrote {path} (mode 0600): webhook secret, API token and dashboard login generated")
    try:
        load_settings(path)
    except ConfigError as exc:  # a missing token is fine when it comes from the environment later
        print(f"still missing: {exc} -- set it in {path} or the environment before the commands below")
    config = f"--config {path}"
    print("next, in one shell:    lsqa " + config + " serve")
    print("then, in another:      lsqa " + config + " connect --project <id from the project's URL>")
    print(
        f"dashboard: http://127.0.0.1:{args.port}/dashboard/, login {args.dashboard_user!r}, "
        f"password in {path} (dashboard.password)"
    )
    return 0
