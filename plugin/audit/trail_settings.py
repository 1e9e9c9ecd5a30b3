"""``settings.changed``: at start, compare the effective settings with the last recorded ones.

The trail keeps the non-secret values (passwords inside URLs masked) and, for secrets, only a keyed
fingerprint, HMAC-SHA256 under a random 256-bit key: enough to tell that a secret changed, never
what it is. The key lives in the store, in row 2 of ``audit_head`` (row 1 is the chain head), and is
never exported: an auditor with an export cannot test password guesses against a fingerprint, as they
could while the fingerprints were salted PBKDF2 with the salt beside them in the same row. Rows written
that way before are still compared (by their salt) so an upgrade records no false change; they stay in
the trail, as a hash chain requires, so rotate ``dashboard.password`` if such an export went out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from plugin.audit.trail import lock_trail, record
from plugin.audit.trail_chain import canonical_json
from plugin.logs import mask_url_password
from plugin.settings import SETTINGS, Settings
from plugin.store import Store
from plugin.store.schema_audit import audit_head, audit_log

log = logging.getLogger(__name__)
KIND = "settings.changed"
KEY_ROW_ID = 2  # audit_head row 1 is the chain head; no reader looks past it
LEGACY_ITERATIONS = 100_000
Fingerprint = Callable[[str, str], str]  # (setting, value) -> fingerprint


def record_settings_change(store: Store, settings: Settings) -> list[str]:
    """Append a ``settings.changed`` row if the settings differ from the last one recorded (or
    none was); returns the keys that changed, secrets included by name only."""
    with store.begin() as conn:
        lock_trail(conn)  # two processes starting at once must not both record the same change
        last = _last_recorded(conn)
        shown, hidden = snapshot(settings, keyed_fingerprint(_fingerprint_key(conn)))
        # a row from before keyed fingerprints is compared the way it was written
        before = snapshot(settings, _legacy_fingerprint(str(last["salt"])))[1] if "salt" in last else hidden
        changed = sorted(
            key
            for key in {*shown, *hidden, *last.get("values", {}), *_fingerprints(last)}
            if _differs(key, shown, before, last)
        )
        if not changed:
            return []
        facts = {
            "changed": changed,
            "baseline": not last,
            "values": shown,
            "secrets": [{"setting": k, "fingerprint": v} for k, v in sorted(hidden.items())],
            "source": settings.source,
        }
        record(conn, KIND, actor="service", subject="settings", facts=facts)
    log.info("settings changed since the last start: %s", ", ".join(changed))
    return changed


def snapshot(settings: Settings, fingerprint: Fingerprint) -> tuple[dict[str, Any], dict[str, str | None]]:
    """(shown values, secret fingerprints) of the effective settings."""
    shown: dict[str, Any] = {}
    hidden: dict[str, str | None] = {}
    for setting in SETTINGS:
        value = settings[setting.key]
        masked = mask_url_password(value) if isinstance(value, str) else value
        if setting.secret or masked != value:
            hidden[setting.key] = None if value is None else fingerprint(setting.key, str(value))
        if not setting.secret:
            shown[setting.key] = masked
    return shown, hidden


def keyed_fingerprint(key: bytes) -> Fingerprint:
    """HMAC-SHA256 of ``setting NUL value``: without the key, a guess cannot be checked."""

    def fingerprint(setting: str, value: str) -> str:
        return hmac.new(key, f"{setting}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]

    return fingerprint


def _legacy_fingerprint(salt: str) -> Fingerprint:
    def fingerprint(_setting: str, value: str) -> str:
        digest = hashlib.pbkdf2_hmac("sha256", value.encode(), bytes.fromhex(salt), LEGACY_ITERATIONS)
        return digest.hex()[:32]

    return fingerprint


def _fingerprint_key(conn: Connection) -> bytes:
    """The store's fingerprint key, created on first use (the caller holds the trail lock)."""
    query = select(audit_head.c.hash).where(audit_head.c.id == KEY_ROW_ID)
    key = conn.execute(query).scalar_one_or_none()
    if key is None:
        key = secrets.token_hex(32)  # 64 hex characters: exactly the column's width
        conn.execute(audit_head.insert().values(id=KEY_ROW_ID, seq=0, hash=key))
    return bytes.fromhex(key)


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
