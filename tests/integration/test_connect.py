"""`lsqa connect` against a real Label Studio: idempotent, self-repairing, clear when it cannot work."""

from __future__ import annotations

import pytest
from lsharness import LabelStudioServer
from servicefixtures import SECRET, ServiceProcess

from plugin.connect import desired_webhook
from plugin.firstrun import BAD_TOKEN_HINT
from plugin.labelstudio import LabelStudioAdapter

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""


@pytest.fixture
def project_id(ls_server: LabelStudioServer) -> int:
    return ls_server.create_project("connect tests", LABEL_CONFIG)


@pytest.fixture
def service(ls_server: LabelStudioServer, sqlite_url: str, tmp_path) -> ServiceProcess:
    # Not started: connect only needs the settings; the port is where Label Studio will call.
    return ServiceProcess(tmp_path, sqlite_url, label_studio_url=ls_server.url, api_key=ls_server.admin_pat)


def our_hooks(adapter: LabelStudioAdapter, project_id: int, url: str) -> list[dict]:
    return [h for h in adapter.list_webhooks(project_id) if h["url"] == url]


def test_connect_repairs_an_edited_webhook_and_removes_duplicates(ls_server, project_id, service):
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    foreign = adapter.create_webhook(
        project_id, url="http://127.0.0.1:9/other", headers={}, actions=["TASKS_CREATED"]
    )
    service.cli("connect", "--project", str(project_id), "--no-sync", "--no-check")
    (hook,) = our_hooks(adapter, project_id, service.webhook_url)
    adapter.update_webhook(hook["id"], actions=["ANNOTATION_CREATED"], headers={"X-LSQA-Secret": "tampered"})
    adapter.create_webhook(project_id, url=service.webhook_url, headers={}, actions=["ANNOTATION_CREATED"])

    out = service.cli("connect", "--project", str(project_id), "--no-sync", "--no-check").stdout

    assert "deleted duplicate webhook" in out and "updated webhook" in out
    (hook,) = our_hooks(adapter, project_id, service.webhook_url)
    want = desired_webhook(service_settings(service))
    assert sorted(hook["actions"]) == want["actions"]
    assert hook["headers"] == {"X-LSQA-Secret": SECRET}
    assert hook["is_active"] and hook["send_payload"]
    assert any(h["id"] == foreign["id"] for h in adapter.list_webhooks(project_id))  # not ours: untouched
    adapter.close()


def test_a_new_secret_keeps_every_action_and_events_keep_arriving(ls_server, project_id, service):
    """Rotating the secret changes only the header; Label Studio would empty the hook's action list
    on a PATCH without it, so connect must send everything."""
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    service.cli("connect", "--project", str(project_id), "--no-sync", "--no-check")
    service.config.write_text(service.config.read_text().replace(SECRET, "a-rotated-secret-0123456789"))

    out = service.cli("connect", "--project", str(project_id), "--no-sync", "--no-check").stdout

    assert "updated webhook" in out and "headers" in out
    (hook,) = our_hooks(adapter, project_id, service.webhook_url)
    assert sorted(hook["actions"]) == desired_webhook(service_settings(service))["actions"]
    assert hook["headers"] == {"X-LSQA-Secret": "a-rotated-secret-0123456789"}
    adapter.close()


def service_settings(service: ServiceProcess):  # type: ignore[no-untyped-def]
    from plugin.settings import load_settings

    return load_settings(service.config, env={})


def test_connect_works_with_a_legacy_token(ls_server, project_id, sqlite_url, tmp_path):
    legacy = ls_server.enable_legacy_tokens()
    service = ServiceProcess(tmp_path, sqlite_url, label_studio_url=ls_server.url, api_key=legacy)
    out = service.cli("connect", "--project", str(project_id), "--no-check").stdout
    assert "authenticated as admin@lsqa.test" in out and "initial sync: project" in out


@pytest.mark.parametrize(
    ("url", "key", "expected", "hint"),
    [
        (None, "not-a-real-token", "401", BAD_TOKEN_HINT),
        ("http://127.0.0.1:1", None, "127.0.0.1:1", "Is Label Studio running at http://127.0.0.1:1?"),
    ],
)
def test_connect_fails_with_one_clear_line_and_what_to_do(
    ls_server, project_id, sqlite_url, tmp_path, url, key, expected, hint
):
    service = ServiceProcess(
        tmp_path, sqlite_url, label_studio_url=url or ls_server.url, api_key=key or ls_server.admin_pat
    )
    result = service.cli("connect", "--project", str(project_id), check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    line, advice = result.stderr.strip().splitlines()
    assert line.startswith("lsqa: ") and expected in line
    assert advice.startswith("lsqa: what to do: ") and hint in advice
    assert "Traceback" not in result.stderr


def test_connect_to_an_unknown_project_lists_the_projects_there_are(ls_server, project_id, service):
    result = service.cli("connect", "--project", "999999", check=False)
    assert result.returncode == 1
    line, advice = result.stderr.strip().splitlines()
    assert line == "lsqa: Label Studio has no project 999999 that this account can see"
    assert f"{project_id} 'connect tests'" in advice and "Traceback" not in result.stderr
