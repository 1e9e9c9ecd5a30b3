"""Shared by the worker-failure tests: settings with worker options, events straight into the inbox,
the inbox's state, and a reaction that fails on demand."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from plugin.relabel import engine as relabel_engine
from plugin.settings import Settings, load_settings
from plugin.store import Store
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import inbox


def make_settings(store_url: str, tmp_path: Any, **worker: object) -> Settings:
    config = tmp_path / "worker.yaml"
    config.write_text("worker:\n" + "".join(f"  {k}: {v}\n" for k, v in worker.items()) if worker else "")
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


def enqueue(store: Store, bodies: list[dict[str, Any]]) -> list[bool]:
    """Straight into the inbox, as an older receiver (or a hand edit) could have left them."""
    events = [InboxEvent(f"key-{i}-{id(b)}", b["action"], 1, json.dumps(b)) for i, b in enumerate(bodies)]
    with store.inbox_begin() as conn:
        return append_events(conn, events)


def inbox_state(store: Store) -> list[tuple[Any, ...]]:
    """(id, status, attempts, error) of every inbox row, in order."""
    with store.inbox_read() as conn:
        query = select(inbox.c.id, inbox.c.status, inbox.c.attempts, inbox.c.error).order_by(inbox.c.id)
        return [tuple(r) for r in conn.execute(query)]


def install_fault(monkeypatch: Any) -> dict[int, Exception]:
    """Make reacting to an annotation raise ``errors[its id]`` (a bug, or the database in trouble)."""
    errors: dict[int, Exception] = {}
    real = relabel_engine.react_to_event

    def react(conn, action, changes, settings, event_id, facts=None):  # type: ignore[no-untyped-def]
        for annotation in changes.annotations:
            if annotation.id in errors:
                raise errors[annotation.id]
        return real(conn, action, changes, settings, event_id, facts)

    monkeypatch.setattr(relabel_engine, "react_to_event", react)
    return errors
