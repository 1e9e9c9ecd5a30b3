"""The settings file the demo writes for its service (pure apart from :func:`write_config`).

Demo values differ from production defaults on purpose, so the loop shows up within minutes
instead of days: gold is 15 % of each person's work (not 4 %), a quiz is 6 items (not 10), and
with the ``safety_critical`` preset (95 %) and 6 answers before a decision, confusing the most
common class (two in five gold items wrong) is flagged after 6 to 10 gold answers, where the
default 90 % and 10 answers need about 15. A careful annotator (1 % slips) is flagged by it with a
probability under 1 %.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plugin.settings import SETTINGS

DEMO_QA = {
    "gold.rate": 0.15,
    "gold.onboarding_items": 5,
    "gold.quiz_items": 6,
    "quality.preset": "safety_critical",
    "quality.min_answers": 6,
}
DASHBOARD_USER = "demo"


@dataclass(frozen=True)
class DemoSecrets:
    webhook_secret: str
    api_token: str
    dashboard_password: str
    session_secret: str


def optional_settings(secrets: DemoSecrets) -> dict[str, Any]:
    """Settings of features built alongside the demo: batch agreement, relabeling, the dashboard.

    >>> COORDINATOR: this is the one place to wire them. <<<
    Each key is written only when ``plugin.settings.SETTINGS`` declares it (see
    :func:`service_settings`), so the demo runs before those features are merged and picks them up
    after. Rename keys here to the merged names; add any the features need to show up in minutes.
    """
    return {
        # batch agreement: the demo's one import is one batch; a 5 % sample (30 of 600 tasks) is
        # double-annotated first (show_overlap_first), so its kappa and alpha come within minutes
        "agreement.enabled": True,
        "agreement.batch_mode": "import",
        "agreement.sample_rate": 0.05,
        # relabeling: the worker's own schedule (no command, no cron) queues and pushes candidates
        # every 30 s, so the flagged annotator's suspect work appears in the service-created relabel
        # project, and their flag's Data Manager tab in the demo project, within a minute
        "relabel.push_interval": 30,
        "relabel.cl_enabled": False,
        # dashboard login (plain HTTP on 127.0.0.1, so the cookie is not marked Secure)
        "dashboard.username": DASHBOARD_USER,
        "dashboard.password": secrets.dashboard_password,
        "dashboard.session_secret": secrets.session_secret,
        "dashboard.secure_cookie": False,
    }


def service_settings(
    *,
    label_studio_url: str,
    api_key: str,
    database_url: str,
    port: int,
    secrets: DemoSecrets,
    known_keys: Collection[str] | None = None,
) -> dict[str, Any]:
    """Flat ``{dotted key: value}`` settings of the demo's service; optional keys only if known."""
    known = {s.key for s in SETTINGS} if known_keys is None else set(known_keys)
    flat: dict[str, Any] = {
        "label_studio.url": label_studio_url,
        "label_studio.api_key": api_key,
        "webhook.secret": secrets.webhook_secret,
        "api.token": secrets.api_token,
        "database.url": database_url,
        "database.sqlite_synchronous": "NORMAL",  # a throwaway store: speed over power-loss safety
        "server.host": "127.0.0.1",
        "server.port": port,
        "worker.poll_interval": 0.1,
        **DEMO_QA,
    }
    flat.update({k: v for k, v in optional_settings(secrets).items() if k in known})
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``, the shape of the YAML file."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *sections, name = key.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return tree


def write_config(
    path: Path,
    flat: Mapping[str, Any],
    *,
    header: str = "# Written by `lsqa demo`; holds secrets of this demo run.\n",
    exclusive: bool = False,
) -> Path:
    """Write the settings as YAML readable only by the user (it holds the tokens); with ``exclusive``,
    never over an existing file (FileExistsError)."""
    text = header + yaml.safe_dump(nest(flat), sort_keys=False)
    mode = os.O_EXCL if exclusive else os.O_TRUNC
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
