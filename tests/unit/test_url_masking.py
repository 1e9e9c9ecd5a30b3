"""Passwords inside URLs never reach output or logs: one helper, used wherever a URL is shown."""

import logging
import socket

import pytest

from plugin.connect import connect_project
from plugin.labelstudio import LabelStudioAdapter, LabelStudioError, ServerInfo
from plugin.logs import mask_url_password
from plugin.settings import load_settings


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://svc:s3cret@ls.example:8080/x", "http://svc:***@ls.example:8080/x"),
        ("https://:tok@ls.example", "https://:***@ls.example"),
        (
            "postgresql+psycopg://lsqa:pw@db/lsqa?sslmode=require",
            "postgresql+psycopg://lsqa:***@db/lsqa?sslmode=require",
        ),
        ("http://svc:p@ss@host/", "http://svc:***@host/"),  # a raw "@" in the password
        ("at 'http://a:b@h' and http://c:d@i.", "at 'http://a:***@h' and http://c:***@i."),
        ("http://svc@host", "http://svc@host"),  # a user name alone is no secret
        ("http://svc:@host", "http://svc:@host"),
        ("http://ls.example:8080/api", "http://ls.example:8080/api"),
        ("no url: user:pw@host", "no url: user:pw@host"),
    ],
)
def test_mask_url_password(text, masked):
    assert mask_url_password(text) == masked


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failed_call_to_label_studio_does_not_show_the_url_password():
    adapter = LabelStudioAdapter(
        f"http://svc:label-pass-123@127.0.0.1:{closed_port()}", "legacy-key-123", timeout=2, max_retries=0
    )
    with adapter, pytest.raises(LabelStudioError) as excinfo:
        adapter.server_info()
    message = str(excinfo.value)
    assert "label-pass-123" not in message
    assert message.startswith("cannot reach Label Studio at http://svc:***@127.0.0.1:")


class FakeLabelStudio:
    """The adapter's verbs connect uses, answering like Label Studio 1.23."""

    def server_info(self):
        return ServerInfo("1.23.2", "Community")

    def whoami(self):
        return {"id": 1, "email": "svc@example.com"}

    def get_project(self, project_id):
        return {"id": project_id, "title": "p", "show_overlap_first": True, "label_config": "<View/>"}

    def list_webhooks(self, project_id):
        return []

    def create_webhook(self, project_id, **_fields):
        return {"id": 7}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_connect_output_does_not_show_url_passwords(store, store_url, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    config = tmp_path / "lsqa.yaml"
    config.write_text("")
    env = {
        "LABEL_STUDIO_URL": "http://svc:label-pass-123@ls.example:8080",
        "LSQA_PUBLIC_URL": "https://hook:proxy-pass-456@qa.example",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "0123456789abcdef",
        "LSQA_DATABASE_URL": store_url,
    }
    report = connect_project(load_settings(config, env=env), store, FakeLabelStudio(), 1)
    shown = "\n".join(report.lines) + caplog.text
    assert "label-pass-123" not in shown and "proxy-pass-456" not in shown
    assert "at http://svc:***@ls.example:8080" in shown
    assert "-> https://hook:***@qa.example/webhooks/label-studio" in shown
