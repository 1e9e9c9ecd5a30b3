"""``settings.changed``: recorded at start only when the effective settings differ, naming the
keys; secrets (and passwords inside URLs) are never written or printed."""

import hashlib
import hmac
import io
import json
import logging
import re

import pytest
from sqlalchemy import select

from plugin.audit.trail import record
from plugin.audit.trail_io import iter_rows, write_rows
from plugin.audit.trail_settings import _legacy_fingerprint, record_settings_change, snapshot
from plugin.settings import SETTINGS, load_settings
from plugin.store.schema_audit import audit_head, audit_log

SECRETS = {
    "LABEL_STUDIO_API_KEY": "pat-abcdefghijkl",
    "LSQA_WEBHOOK_SECRET": "webhook-secret-0123456789",
    "LSQA_API_TOKEN": "api-token-zyxwvutsrq",
    "LSQA_SMTP_PASSWORD": "smtp-pass-qwertyuiop",
}


def settings_with(store_url, tmp_path, yaml_text="", **env):
    config = tmp_path / "lsqa.yaml"
    config.write_text(yaml_text)
    return load_settings(
        config,
        env={"LABEL_STUDIO_URL": "http://127.0.0.1:1", "LSQA_DATABASE_URL": store_url, **SECRETS, **env},
    )


def settings_rows(store):
    with store.read() as conn:
        query = (
            select(audit_log.c.facts).where(audit_log.c.kind == "settings.changed").order_by(audit_log.c.seq)
        )
        return list(conn.execute(query).scalars())


def test_settings_change_recorded_only_when_settings_differ(store, store_url, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    first = settings_with(store_url, tmp_path)
    assert record_settings_change(store, first) == sorted(s.key for s in SETTINGS)  # the baseline
    assert record_settings_change(store, first) == []
    assert record_settings_change(store, settings_with(store_url, tmp_path)) == []  # same values, new load
    changed = settings_with(
        store_url, tmp_path, "quality:\n  threshold: 0.95\n", LSQA_WEBHOOK_SECRET="another-secret-abcdefgh"
    )
    assert record_settings_change(store, changed) == ["quality.threshold", "webhook.secret"]
    assert record_settings_change(store, changed) == []
    rows = [json.loads(text) for text in settings_rows(store)]
    assert [r["changed"] for r in rows][1] == ["quality.threshold", "webhook.secret"]
    assert [r["baseline"] for r in rows] == [True, False]
    assert rows[1]["values"]["quality.threshold"] == 0.95 and "webhook.secret" not in rows[1]["values"]
    secret_prints = {s["setting"]: s["fingerprint"] for s in rows[1]["secrets"]}
    assert secret_prints["alerts.slack_webhook_url"] is None and len(secret_prints["webhook.secret"]) == 32
    everything = " ".join(settings_rows(store)) + caplog.text
    for value in [*SECRETS.values(), "another-secret-abcdefgh"]:
        assert value not in everything
    assert "settings changed since the last start: quality.threshold, webhook.secret" in caplog.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_settings_change_masks_passwords_in_urls(store, store_url, tmp_path):
    url = "http://svc:label-pass-123@127.0.0.1:1"
    record_settings_change(store, settings_with(store_url, tmp_path, LABEL_STUDIO_URL=url))
    other = "http://svc:label-pass-456@127.0.0.1:1"
    assert record_settings_change(store, settings_with(store_url, tmp_path, LABEL_STUDIO_URL=other)) == [
        "label_studio.url"
    ]
    text = " ".join(settings_rows(store))
    assert "label-pass" not in text and "http://svc:***@127.0.0.1:1" in text


def offline_attack_confirms(export: str, guess: str) -> bool:
    """What an auditor holding only the export can try: every hex string in it as a salt (PBKDF2, as
    the trail once used) or as an HMAC key, and a plain hash, against every recorded fingerprint."""
    rows = [json.loads(line)["facts"] for line in export.splitlines()]
    prints = {s["fingerprint"] for facts in rows for s in facts.get("secrets", []) if s["fingerprint"]}
    candidates = set(re.findall(r"\b[0-9a-f]{16,}\b", export))
    tries = {hashlib.sha256(guess.encode()).hexdigest()[:32]}
    for hex_text in candidates:
        key = bytes.fromhex(hex_text) if len(hex_text) % 2 == 0 else hex_text.encode()
        tries.add(hashlib.pbkdf2_hmac("sha256", guess.encode(), key, 100_000).hex()[:32])
        for message in (guess, f"dashboard.password\0{guess}"):
            tries.add(hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:32])
    return bool(prints & tries)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_export_cannot_confirm_a_password_guess(store, store_url, tmp_path, capsys):
    password = "correct horse battery"
    record_settings_change(store, settings_with(store_url, tmp_path, LSQA_DASHBOARD_PASSWORD=password))
    record_settings_change(store, settings_with(store_url, tmp_path, LSQA_DASHBOARD_PASSWORD=password + "!"))
    export = io.StringIO()
    with store.read() as conn:
        write_rows(iter_rows(conn), export, "jsonl")
    assert not offline_attack_confirms(export.getvalue(), password)
    assert not offline_attack_confirms(export.getvalue(), password + "!")
    assert '"dashboard.password"' in export.getvalue()  # the change itself is on record
    with store.read() as conn:
        key = conn.execute(select(audit_head.c.hash).where(audit_head.c.id == 2)).scalar_one()
    assert key not in export.getvalue()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_row_with_salted_fingerprints_records_no_false_change(store, store_url, tmp_path):
    """Rows written before the keyed fingerprints are compared as they were written."""
    settings = settings_with(store_url, tmp_path, LSQA_DASHBOARD_PASSWORD="pw-1")
    salt = "00112233445566778899aabbccddeeff"
    shown, hidden = snapshot(settings, _legacy_fingerprint(salt))
    facts = {
        "changed": sorted({*shown, *hidden}),
        "baseline": True,
        "values": shown,
        "secrets": [{"setting": k, "fingerprint": v} for k, v in sorted(hidden.items())],
        "salt": salt,
        "source": settings.source,
    }
    with store.begin() as conn:
        record(conn, "settings.changed", actor="service", subject="settings", facts=facts)
    assert record_settings_change(store, settings) == []
    changed = settings_with(store_url, tmp_path, LSQA_DASHBOARD_PASSWORD="pw-2")
    assert record_settings_change(store, changed) == ["dashboard.password"]
    assert "salt" not in json.loads(settings_rows(store)[-1])
