"""``settings.changed``: recorded at start only when the effective settings differ, naming the
keys; secrets (and passwords inside URLs) are never written or printed."""

import json
import logging

import pytest
from sqlalchemy import select

from plugin.audit.trail_settings import record_settings_change
from plugin.settings import SETTINGS, load_settings
from plugin.store.schema_audit import audit_log

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
