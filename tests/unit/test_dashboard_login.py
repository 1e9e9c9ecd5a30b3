"""Dashboard login: enforced on every page, session cookie flags, CSRF on the forms, 503 when unset."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from dashboardseed import PASSWORD, USERNAME, dashboard_env, seeded_app

from plugin.settings import ConfigError, load_settings
from webhooks.app import create_app

PANELS = ("accuracy", "heatmap", "agreement", "gold", "relabel", "alerts")
PAGES = ["/dashboard/"] + [f"/dashboard/projects/1/{page}" for page in PANELS]


def make_app(store, sqlite_url, **env):
    """A second app over the same store, with other settings."""
    return create_app(load_settings(None, env=dashboard_env(sqlite_url, **env)), store=store)


@pytest.fixture
def app(sqlite_url):
    with seeded_app(sqlite_url) as app:
        yield app


@pytest.fixture
def store(app):
    return app.extensions["lsqa"]["store"]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def login(client, username=USERNAME, password=PASSWORD, next_path=None):
    form_page = client.get("/dashboard/login")
    data = {"username": username, "password": password, "csrf": csrf_of(form_page.get_data(as_text=True))}
    url = "/dashboard/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data=data, base_url="https://localhost")


@pytest.fixture
def client(app):
    # https: the session cookie is Secure by default and the test client honours that.
    return app.test_client()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_login_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


def test_login_sets_a_hardened_session_cookie_and_opens_every_page(client):
    response = login(client)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "lsqa_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Strict" in cookie
    for path in PAGES:
        page = client.get(path, base_url="https://localhost")
        assert page.status_code == 200, path
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-store"


def test_wrong_password_or_user_is_refused(client):
    assert login(client, password="wrong").status_code == 401
    assert login(client, username="someone").status_code == 401
    assert client.get("/dashboard/", base_url="https://localhost").status_code == 302


def test_login_without_the_csrf_token_is_refused(client):
    response = client.post(
        "/dashboard/login", data={"username": USERNAME, "password": PASSWORD}, base_url="https://localhost"
    )
    assert response.status_code == 401 and "expired" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/dashboard/projects/1/gold", "/dashboard/projects/1/gold"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/dashboard/", "/dashboard/"),
    ],
)
def test_login_returns_to_the_page_asked_for_but_never_off_site(client, target, landing):
    response = login(client, next_path=target)
    assert response.headers["Location"] == landing


def test_session_reads_the_api_without_a_token(client):
    assert client.get("/api/v1/projects/1/timeline").status_code == 401
    login(client)
    response = client.get("/api/v1/projects/1/timeline", base_url="https://localhost")
    assert response.status_code == 200 and response.get_json()["project_id"] == 1


def test_logout_needs_post_and_its_csrf_token(client):
    login(client)
    page = client.get("/dashboard/", base_url="https://localhost").get_data(as_text=True)
    assert client.get("/dashboard/logout", base_url="https://localhost").status_code == 405
    forged = client.post("/dashboard/logout", data={"csrf": "forged"}, base_url="https://localhost")
    assert forged.status_code == 400
    assert client.get("/dashboard/", base_url="https://localhost").status_code == 200
    done = client.post("/dashboard/logout", data={"csrf": csrf_of(page)}, base_url="https://localhost")
    assert done.status_code == 302
    assert client.get("/dashboard/", base_url="https://localhost").status_code == 302
    assert client.get("/api/v1/projects", base_url="https://localhost").status_code == 401


def test_a_session_of_another_user_name_is_void(store, sqlite_url, client):
    login(client)
    renamed = make_app(store, sqlite_url, LSQA_DASHBOARD_USERNAME="someone-else")
    renamed_client = renamed.test_client()
    renamed_client.set_cookie("lsqa_session", client.get_cookie("lsqa_session").value, domain="localhost")
    assert renamed_client.get("/dashboard/", base_url="https://localhost").status_code == 302
    renamed.extensions["lsqa"]["writer"].close()


@pytest.mark.parametrize(
    "unset", ["LSQA_DASHBOARD_USERNAME", "LSQA_DASHBOARD_PASSWORD", "LSQA_DASHBOARD_SESSION_SECRET"]
)
def test_dashboard_is_off_with_a_clear_message_when_a_setting_is_missing(store, sqlite_url, unset):
    app = make_app(store, sqlite_url, **{unset: ""})
    for path in ("/dashboard/", "/dashboard/login"):
        response = app.test_client().get(path)
        assert response.status_code == 503
        assert unset.removeprefix("LSQA_").lower().replace("dashboard_", "dashboard.") in response.text
    app.extensions["lsqa"]["writer"].close()


def test_a_short_session_secret_is_a_config_error(sqlite_url):
    with pytest.raises(ConfigError, match="dashboard.session_secret: must be at least 32 characters"):
        load_settings(None, env=dashboard_env(sqlite_url, LSQA_DASHBOARD_SESSION_SECRET="short"))


def test_static_assets_ship_without_login(client):
    for name in ("dashboard.js", "charts.js", "dashboard.css"):
        with client.get(f"/dashboard/static/{name}") as response:
            assert response.status_code == 200 and response.data


def test_a_session_reads_the_api_even_while_the_token_api_is_off(store, sqlite_url):
    app = make_app(store, sqlite_url, LSQA_API_TOKEN="")
    client = app.test_client()
    assert client.get("/api/v1/projects", headers={"Authorization": "Bearer x"}).status_code == 503
    login(client)
    assert client.get("/api/v1/projects", base_url="https://localhost").status_code == 200
    app.extensions["lsqa"]["writer"].close()


def wait_for(throttle, client: str) -> int:
    """The wait ``client`` would be told, without counting an attempt."""
    attempt, wait = throttle.begin(client)
    throttle.forget(attempt)
    return wait


def test_failed_logins_are_throttled_per_address_even_for_the_right_password(app, store, client):
    from webhooks.dashboard.auth import LoginThrottle

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    throttle = app.extensions["lsqa"]["login_throttle"] = LoginThrottle(
        store, allowed=3, window=600, clock=lambda: now[0]
    )
    for _ in range(3):
        assert login(client, password="wrong").status_code == 401
    refused = login(client)  # the right password, but too late
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "600"
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302  # no session was started
    assert wait_for(throttle, "10.0.0.9") == 0  # other addresses are not affected
    now[0] += timedelta(seconds=601)  # the failures leave the window
    assert login(client).status_code == 302
    assert client.get("/dashboard/").status_code == 200
    assert wait_for(throttle, "127.0.0.1") == 0  # a success clears the count


def test_the_throttle_forgets_failures_outside_its_window(store):
    from webhooks.dashboard.auth import LoginThrottle

    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = [start]
    throttle = LoginThrottle(store, allowed=2, window=10, clock=lambda: now[0])
    throttle.begin("a")
    now[0] = start + timedelta(seconds=6)
    throttle.begin("a")
    assert wait_for(throttle, "a") == 4  # until the first failure is 10 s old
    now[0] = start + timedelta(seconds=10.5)
    assert wait_for(throttle, "a") == 0
    throttle.begin("a")
    assert wait_for(throttle, "a") == 6


def test_refused_attempts_do_not_count(store):
    from webhooks.dashboard.auth import LoginThrottle

    throttle = LoginThrottle(store, allowed=2, window=600)
    for _ in range(5):
        assert wait_for(throttle, "b") == 0


def test_a_copied_cookie_is_void_after_logout(client, app):
    login(client)
    copied = client.get_cookie("lsqa_session").value
    page = client.get("/dashboard/", base_url="https://localhost").get_data(as_text=True)
    client.post("/dashboard/logout", data={"csrf": csrf_of(page)}, base_url="https://localhost")
    thief = app.test_client()
    thief.set_cookie("lsqa_session", copied, domain="localhost")
    assert thief.get("/dashboard/", base_url="https://localhost").status_code == 302
    assert thief.get("/api/v1/projects", base_url="https://localhost").status_code == 401


def test_a_large_form_is_refused_unread_and_the_connection_closed(client):
    response = client.post(
        "/dashboard/login",
        data={"username": "x" * 100_000, "password": "y"},
        base_url="https://localhost",
    )
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"


def test_the_webhook_keeps_its_own_larger_limit(client):
    body = b'{"action": "PROJECT_UPDATED", "pad": "' + b"x" * 200_000 + b'"}'
    headers = {"Content-Type": "application/json", "X-LSQA-Secret": "0123456789abcdef0123"}
    response = client.post("/webhooks/label-studio", data=body, headers=headers)
    assert response.status_code == 200 and "Connection" not in response.headers
    del headers["X-LSQA-Secret"]
    refused = client.post("/webhooks/label-studio", data=body, headers=headers)
    assert refused.status_code == 401 and refused.headers["Connection"] == "close"
