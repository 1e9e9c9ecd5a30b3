"""First-run errors say what to do; `lsqa init` writes a working settings file and never overwrites."""

from __future__ import annotations

import socket
import stat

import pytest

from plugin.cli import main
from plugin.firstrun import (
    BAD_TOKEN_HINT,
    LEGACY_TOKEN_HINT,
    NO_RIGHTS_HINT,
    SSRF_HINT,
    SetupError,
    check_port_free,
    check_version,
    hint_for,
    judge_version,
)
from plugin.labelstudio import LabelStudioError
from plugin.settings import load_settings

URL = "http://ls.example:8080"


@pytest.mark.parametrize(
    ("message", "status", "hint"),
    [
        (  # measured on 1.23.2 with SSRF protection on (label-studio-notes.md §1)
            "Label Studio POST /api/webhooks/ failed: 403 Forbidden: URL resolves to a reserved network "
            "address (block: 127.0.0.0/8)",
            403,
            SSRF_HINT,
        ),
        (
            "Label Studio GET /api/version failed: 401 Unauthorized: Authentication token no longer valid: "
            "legacy token authentication has been disabled for this organization",
            401,
            LEGACY_TOKEN_HINT,
        ),
        ("Label Studio GET /api/version failed: 401 Unauthorized: Invalid token.", 401, BAD_TOKEN_HINT),
        ("Label Studio API key rejected: Token is expired", 401, BAD_TOKEN_HINT),
        ("Label Studio PATCH /api/projects/3/ failed: 403 Forbidden: no permission", 403, NO_RIGHTS_HINT),
        (
            "cannot reach Label Studio at http://ls.example:8080 (GET /api/version): Connection refused",
            None,
            "Is Label Studio running at http://ls.example:8080?",
        ),
    ],
)
def test_hint_for_names_what_to_do(message, status, hint):
    assert hint in (hint_for(LabelStudioError(message, status), URL) or "")


def test_hint_for_stays_quiet_when_it_has_nothing_to_add():
    assert (
        hint_for(LabelStudioError("Label Studio GET /x failed: 500 Internal Server Error: boom", 500), URL)
        is None
    )


@pytest.mark.parametrize(
    ("version", "supported", "says"),
    [
        ("1.19.0", False, "older than the versions tested (1.20 to 1.23)"),
        ("1.20.0", True, "warning: Label Studio 1.20.0 is tested (1.20 to 1.23) but some of our tests fail"),
        ("1.22.0", True, "but some of our tests fail on it: upgrade to 1.23"),
        ("1.23.2", True, "is a tested, supported version"),
        ("1.24.0", True, "warning: Label Studio 1.24.0 is newer"),
        ("2.0.0.dev1", True, "newer"),
        ("", True, "cannot tell"),
    ],
)
def test_judge_version(version, supported, says):
    verdict = judge_version(version)
    assert verdict.supported is supported and says in verdict.line


def test_check_version_refuses_a_label_studio_too_old_with_an_upgrade_hint():
    with pytest.raises(SetupError) as caught:
        check_version("1.12.1")
    assert "pip install -U label-studio" in caught.value.hint


def test_serve_refuses_a_port_in_use_with_what_to_change(tmp_path, capsys, monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(SetupError, match="the port is in use"):
            check_port_free("127.0.0.1", port)
        config = tmp_path / "s.yaml"
        config.write_text(
            f"label_studio: {{url: {URL}, api_key: k}}\nwebhook: {{secret: 0123456789abcdef}}\n"
            f"database: {{url: 'sqlite:///{tmp_path}/s.db'}}\nserver: {{port: {port}}}\n"
        )
        assert main(["--config", str(config), "serve"]) == 1
    line, advice = capsys.readouterr().err.strip().splitlines()
    assert line == f"lsqa: cannot listen on 127.0.0.1:{port}: the port is in use"
    assert "server.port" in advice


def test_init_writes_a_private_settings_file_that_loads(tmp_path, capsys):
    path = tmp_path / "lsqa.yaml"
    code = main(["init", str(path), "--no-input", "--label-studio-url", URL, "--api-key", "pat-token"])

    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings(path, env={})
    assert settings["label_studio.url"] == URL and settings["label_studio.api_key"] == "pat-token"
    assert len(settings["webhook.secret"]) >= 16 and len(settings["dashboard.session_secret"]) >= 32
    assert settings["api.token"] and settings["dashboard.password"]
    out = capsys.readouterr().out
    assert f"lsqa --config {path} serve" in out and f"lsqa --config {path} connect --project" in out
    for secret in ("webhook.secret", "api.token", "dashboard.password", "dashboard.session_secret"):
        assert settings[secret] not in out  # secrets stay in the file


def test_init_generates_new_secrets_each_time(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        assert main(["init", str(tmp_path / name), "--no-input", "--api-key", "k"]) == 0
    a, b = (load_settings(tmp_path / n, env={}) for n in ("a.yaml", "b.yaml"))
    for key in ("webhook.secret", "api.token", "dashboard.password", "dashboard.session_secret"):
        assert a[key] != b[key]


def test_init_never_overwrites_a_file(tmp_path, capsys):
    path = tmp_path / "lsqa.yaml"
    path.write_text("mine: true\n")
    assert main(["init", str(path), "--no-input"]) == 1
    assert path.read_text() == "mine: true\n"
    assert "exists; not overwritten" in capsys.readouterr().err


def test_init_without_a_token_says_it_is_still_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    assert main(["init", str(tmp_path / "lsqa.yaml"), "--no-input"]) == 0
    assert "still missing: label_studio.api_key" in capsys.readouterr().out
