"""Dashboard sessions and the login throttle hold across server processes (issue 13, item 6).

Two real `lsqa serve` on one store, on SQLite and PostgreSQL: what one process decides (a logout, a
failed login) the other one knows.
"""

from __future__ import annotations

import re

import pytest
import requests
from servicefixtures import ServiceProcess

USERNAME, PASSWORD = "qa-lead", "correct horse battery staple"
DASHBOARD = (
    "worker:\n  enabled: false\n"
    f"dashboard:\n  username: {USERNAME}\n  password: {PASSWORD}\n"
    "  session_secret: 0123456789abcdef0123456789abcdef-test\n  secure_cookie: false\n"
)


@pytest.fixture
def two_servers(tmp_path, store_url):
    first = ServiceProcess(tmp_path, store_url, extra=DASHBOARD).start()  # migrates the store
    try:
        second = ServiceProcess(tmp_path, store_url, extra=DASHBOARD).start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def attempt_login(server: ServiceProcess, client: requests.Session, password: str) -> requests.Response:
    form = client.get(f"{server.base_url}/dashboard/login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf, form
    data = {"username": USERNAME, "password": password, "csrf": csrf.group(1)}
    return client.post(f"{server.base_url}/dashboard/login", data=data, allow_redirects=False, timeout=10)


def page_status(server: ServiceProcess, cookie: str) -> int:
    response = requests.get(
        f"{server.base_url}/dashboard/", cookies={"lsqa_session": cookie}, allow_redirects=False, timeout=10
    )
    return response.status_code


def test_logout_in_one_process_ends_a_copied_cookie_in_the_other(two_servers):
    first, second = two_servers
    browser = requests.Session()
    assert attempt_login(first, browser, PASSWORD).status_code == 302
    copied = browser.cookies["lsqa_session"]
    assert page_status(second, copied) == 200

    page = browser.get(f"{first.base_url}/dashboard/", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page
    logout = browser.post(
        f"{first.base_url}/dashboard/logout", data={"csrf": csrf.group(1)}, allow_redirects=False, timeout=10
    )
    assert logout.status_code == 302

    assert page_status(second, copied) == 302  # the copy is worthless now, in either process
    assert page_status(first, copied) == 302


def test_failed_logins_are_counted_across_processes(two_servers):
    first, second = two_servers
    statuses = []
    for n in range(25):
        server = (first, second)[n % 2]
        statuses.append(attempt_login(server, requests.Session(), "wrong").status_code)
    assert statuses.count(401) == 10, statuses  # only 10 tries reach the password check
    assert statuses[10:] == [429] * 15
    refused = attempt_login(second, requests.Session(), PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
