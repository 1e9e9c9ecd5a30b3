"""LabelStudioAdapter error mapping that needs no Label Studio server."""

from __future__ import annotations

import socket
import time

import jwt
import pytest

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
