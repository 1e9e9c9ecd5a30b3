"""``settings.changed``: at start, compare the effective settings with the last recorded ones.

The trail keeps the non-secret values (passwords inside URLs masked) and, for secrets, only a
salted PBKDF2 fingerprint: enough to tell that a secret changed, never what it is. The salt is
random, chosen once, and carried from one ``settings.changed`` row to the next.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, select

from plugin.audit.trail import lock_trail, record
from plugin.audit.trail_chain import canonical_json
from plugin.settings import SETTINGS, Settings
from plugin.store import Store
from plugin.store.schema_audit import audit_log

log = logging.getLogger(__name__)
KIND = "settings.changed"
FINGERPRINT_ITERATIONS = 100_000


def record_settings_change(store: Store, settings: Settings) -> list[str]:
    """Append a ``settings.changed`` row if the settings differ from the last one recorded (or
    none was); returns the keys that changed, secrets included by name only."""
    with store.begin() as conn:
        lock_trail(conn)  # two processes starting at once must not both record the same change
        last = _last_recorded(conn)
        salt = str(last.get("salt") or secrets.token_hex(16))
        shown, hidden = snapshot(settings, salt)
        changed = sorted(
            key
            for key in {*shown, *hidden, *last.get("values", {}), *_fingerprints(last)}
            if _differs(key, shown, hidden, last)
        )
        if not changed:
            return []
        facts = {
            "changed": changed,
            "baseline": not last,
            "values": shown,
            "secrets": [{"setting": k, "fingerprint": v} for k, v in sorted(hidden.items())],
            "salt": salt,
            "source": settings.source,
        }
        record(conn, KIND, actor="service", subject="settings", facts=facts)
    log.info("settings changed since the last start: %s", ", ".join(changed))
    return changed


def snapshot(settings: Settings, salt: str) -> tuple[dict[str, Any], dict[str, str | None]]:
    """(shown values, secret fingerprints) of the effective settings."""
    shown: dict[str, Any] = {}
    hidden: dict[str, str | None] = {}
    for setting in SETTINGS:
        value = settings[setting.key]
        masked = _mask_url_password(value) if isinstance(value, str) else value
        if setting.secret or masked != value:
            hidden[setting.key] = None if value is None else fingerprint(str(value), salt)
        if not setting.secret:
            shown[setting.key] = masked
    return shown, hidden


def fingerprint(value: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", value.encode(), bytes.fromhex(salt), FINGERPRINT_ITERATIONS)
    return digest.hex()[:32]


def _last_recorded(conn: Connection) -> dict[str, Any]:
    query = select(audit_log.c.facts).where(audit_log.c.kind == KIND).order_by(audit_log.c.seq.desc())
    text = conn.execute(query.limit(1)).scalar_one_or_none()
    if text is None:
        return {}
    try:
        facts = json.loads(text)
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _fingerprints(last: dict[str, Any]) -> dict[str, Any]:
    return {
        item["setting"]: item["fingerprint"] for item in last.get("secrets", []) if isinstance(item, dict)
    }


def _differs(key: str, shown: dict[str, Any], hidden: dict[str, Any], last: dict[str, Any]) -> bool:
    old_values = last.get("values", {})
    if (key in shown) != (key in old_values) or (key in hidden) != (key in _fingerprints(last)):
        return True
    # compared as {key: value}: a value redacted in the stored row is redacted here alike
    if key in shown and canonical_json({key: shown[key]}) != canonical_json({key: old_values[key]}):
        return True
    return key in hidden and hidden[key] != _fingerprints(last)[key]


def _mask_url_password(value: str) -> str:
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
