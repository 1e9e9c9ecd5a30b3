"""LabelStudioAdapter error mapping that needs no Label Studio server."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import jwt
import pytest
from faultproxy import Fault, FaultProxy

from plugin.labelstudio import LabelStudioAdapter, LabelStudioError


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def refresh_token(**claims: object) -> str:
    return jwt.encode(
        {"token_type": "refresh", "user_id": "1", **claims},
        "a test key that the server never saw, 32+ bytes",
        algorithm="HS256",
    )


@pytest.mark.parametrize("key", ["legacy-key-123", refresh_token(exp=int(time.time()) + 3600)])
def test_closed_port_is_one_line_without_status_or_key(key: str) -> None:
    adapter = LabelStudioAdapter(closed_port_url(), key, timeout=2, max_retries=0)
    with adapter, pytest.raises(LabelStudioError) as excinfo:
        adapter.server_info()
    message = str(excinfo.value)
    assert excinfo.value.status is None
    assert message.startswith("cannot reach Label Studio at http://127.0.0.1:") and "refused" in message
    assert "\n" not in message and key not in message


def test_expired_pat_is_rejected_when_the_adapter_is_built() -> None:
    key = refresh_token(exp=int(time.time()) - 60)
    with pytest.raises(LabelStudioError, match="expired") as excinfo:
        LabelStudioAdapter("http://127.0.0.1:9", key)
    assert excinfo.value.status == 401 and key not in str(excinfo.value)


def test_pat_without_expiry_is_rejected_when_the_adapter_is_built() -> None:
    with pytest.raises(LabelStudioError, match="expiration") as excinfo:
        LabelStudioAdapter("http://127.0.0.1:9", refresh_token())
    assert excinfo.value.status == 401


def test_unresolvable_host_is_a_connection_error() -> None:
    with (
        LabelStudioAdapter(
            "http://label-studio.invalid", "legacy-key-123", timeout=2, max_retries=0
        ) as adapter,
        pytest.raises(LabelStudioError, match="cannot reach Label Studio at http://label-studio.invalid"),
    ):
        adapter.whoami()


def test_closed_port_is_retryable_and_certainly_not_applied() -> None:
    adapter = LabelStudioAdapter(closed_port_url(), "legacy-key-123", timeout=2, max_retries=0)
    with adapter, pytest.raises(LabelStudioError) as excinfo:
        adapter.create_task(1, {"text": "x"})
    assert excinfo.value.retryable and not excinfo.value.maybe_applied


def test_503_is_retryable_with_retry_after_and_a_post_is_sent_once() -> None:
    with FaultProxy() as proxy:
        proxy.faults.append(Fault("POST", "/api/tasks/", times=5, status=503, headers={"Retry-After": "30"}))
        # max_retries=1: the SDK would re-send a failed call itself; a POST must not be.
        adapter = LabelStudioAdapter(proxy.url, "legacy-key-123", max_retries=1)
        with adapter, pytest.raises(LabelStudioError) as excinfo:
            adapter.create_task(1, {"text": "x"})
        assert proxy.count("POST", "/api/tasks/") == 1
    error = excinfo.value
    assert (error.status, error.retryable, error.final, error.retry_after) == (503, True, False, 30.0)
    assert error.maybe_applied


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (403, False), (404, False), (408, True), (429, True)]
)
def test_4xx_are_final_except_408_and_429(status: int, retryable: bool) -> None:
    with FaultProxy() as proxy, LabelStudioAdapter(proxy.url, "legacy-key-123", max_retries=0) as adapter:
        proxy.faults.append(Fault("GET", "/api/version", status=status))
        with pytest.raises(LabelStudioError) as excinfo:
            adapter.server_info()
    assert excinfo.value.status == status
    assert excinfo.value.retryable is retryable and excinfo.value.final is not retryable
    assert not excinfo.value.maybe_applied


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with FaultProxy() as proxy, LabelStudioAdapter(proxy.url, "legacy-key-123", max_retries=0) as adapter:
        proxy.faults.append(Fault("GET", "/api/version", status=429, headers={"Retry-After": when}))
        with pytest.raises(LabelStudioError) as excinfo:
            adapter.server_info()
    assert excinfo.value.retry_after is not None and 100 < excinfo.value.retry_after <= 120
