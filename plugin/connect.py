"""``lsqa connect``: check Label Studio, register exactly one webhook for us. Idempotent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import update

from plugin.events import HANDLED_ACTIONS, parse_project
from plugin.firstrun import SetupError, check_version
from plugin.labelstudio import LabelStudioAdapter, LabelStudioError
from plugin.logs import mask_url_password
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.domain import upsert_project
from plugin.store.inbox import event_arrived, max_event_id
from plugin.store.schema import projects

ROUND_TRIP_ACTION = "PROJECT_UPDATED"  # what a PATCH of the project makes Label Studio send


@dataclass
class ConnectReport:
    lines: list[str] = field(default_factory=list)
    webhook_id: int | None = None
    changed: bool = False

    def say(self, line: str) -> None:
        self.lines.append(line)


def desired_webhook(settings: Settings) -> dict:
    return {
        "url": settings.webhook_url,
        "headers": {settings["webhook.header"]: settings["webhook.secret"]},
        "actions": sorted(HANDLED_ACTIONS),
        "send_payload": True,
        "send_for_all_actions": False,
        "is_active": True,
    }


def _ours(hook: dict, settings: Settings) -> bool:
    return hook.get("url") == settings.webhook_url or settings["webhook.header"] in (
        hook.get("headers") or {}
    )


def _differences(hook: dict, want: dict) -> dict:
    diff = {}
    for key, value in want.items():
        have = hook.get(key)
        if key == "actions":
            have = sorted(have or [])
        if have != value:
            diff[key] = value
    return diff


def connect_project(
    settings: Settings, store: Store, adapter: LabelStudioAdapter, project_id: int
) -> ConnectReport:
    report = ConnectReport()
    info = adapter.server_info()
    me = adapter.whoami()
    report.say(
        f"Label Studio {info.version} ({info.edition}) at {mask_url_password(settings['label_studio.url'])}"
    )
    report.say(check_version(info.version))
    report.say(f"authenticated as {me.get('email') or me.get('username')} (user {me.get('id')})")
    project = _get_project(adapter, project_id)
    report.say(f"project {project_id}: {project.get('title')!r}")
    if (settings["gold.enabled"] or settings["agreement.enabled"]) and not project.get("show_overlap_first"):
        # Hidden gold copies and the agreement sample (overlap 2) are served first through this
        # setting (notes §3); nothing else uses it unless the project already has overlap > 1.
        project = adapter.update_project(project_id, show_overlap_first=True)
        report.say("set show_overlap_first = true (serves hidden gold and the agreement sample first)")
        report.changed = True
    want = desired_webhook(settings)
    hooks = [h for h in adapter.list_webhooks(project_id) if _ours(h, settings)]
    if not hooks:
        hook = adapter.create_webhook(
            project_id, url=want["url"], headers=want["headers"], actions=want["actions"]
        )
        report.say(f"created webhook {hook['id']} -> {mask_url_password(want['url'])}")
        report.changed = True
    else:
        hook, extras = hooks[0], hooks[1:]
        for extra in extras:
            adapter.delete_webhook(extra["id"])
            report.say(f"deleted duplicate webhook {extra['id']}")
            report.changed = True
        diff = _differences(hook, want)
        if diff:
            # Everything, not just what differs: Label Studio 1.23 empties a webhook's action list
            # on a PATCH that leaves it out, which would silently stop every event.
            hook = adapter.update_webhook(hook["id"], **want)
            report.say(f"updated webhook {hook['id']}: {', '.join(sorted(diff))}")
            report.changed = True
        else:
            report.say(f"webhook {hook['id']} already up to date -> {mask_url_password(want['url'])}")
    report.webhook_id = hook["id"]
    with store.begin() as conn:
        upsert_project(conn, parse_project(project), 0)
        conn.execute(
            update(projects).where(projects.c.id == project_id).values(connected=True, webhook_id=hook["id"])
        )
    return report


def _get_project(adapter: LabelStudioAdapter, project_id: int) -> dict[str, Any]:
    try:
        return adapter.get_project(project_id)
    except LabelStudioError as exc:
        if exc.status != 404:
            raise
        seen = adapter.list_projects()
        listing = ", ".join(f"{p.get('id')} {p.get('title')!r}" for p in seen) or "none"
        raise SetupError(
            f"Label Studio has no project {project_id} that this account can see",
            f"Pass the id from the project's URL (/projects/ID/...). Projects this token sees: {listing}.",
        ) from None


def prove_round_trip(
    settings: Settings, store: Store, adapter: LabelStudioAdapter, project_id: int, wait: float = 10.0
) -> str:
    """Ask Label Studio to send us an event (a no-op PATCH of the project sends PROJECT_UPDATED to
    our webhook) and wait for it to reach the inbox: proof that Label Studio can call
    ``webhook.public_url`` with the right secret. Needs ``lsqa serve`` running on the same store."""
    with store.inbox_read() as conn:
        before = max_event_id(conn)
    title = adapter.get_project(project_id).get("title")
    started = time.monotonic()
    adapter.update_project(project_id, title=title)
    while time.monotonic() - started < wait:
        with store.inbox_read() as conn:
            if event_arrived(conn, ROUND_TRIP_ACTION, project_id, before):
                return (
                    f"round trip: Label Studio delivered a test event in {time.monotonic() - started:.1f} s"
                )
        time.sleep(0.2)
    raise _round_trip_failure(settings, wait)


def _round_trip_failure(settings: Settings, wait: float) -> SetupError:
    hook = settings.webhook_url
    health = hook.rsplit("/webhooks/", 1)[0] + "/healthz"
    try:
        requests.get(health, timeout=3)
    except requests.RequestException:
        return SetupError(
            f"round trip failed: nothing answers at {health}",
            "Start `lsqa serve` with these settings first (it receives the events), and check that "
            "webhook.public_url (LSQA_PUBLIC_URL) is the address of this service.",
        )
    return SetupError(
        f"round trip failed: Label Studio's test event did not reach {hook} within {wait:.0f} s",
        "The service is up, but Label Studio cannot reach that address, or the running service uses "
        "another secret or store: set webhook.public_url (LSQA_PUBLIC_URL) to an address Label "
        "Studio's host can open; Label Studio logs `run_webhook_sync` errors for failed deliveries.",
    )
