"""The slow-client worker's prefetch rule: when a request is whole enough for a thread."""

import pytest

from webhooks.slowclients import request_complete

HEAD = b"POST /webhooks/label-studio HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("buffered", "complete"),
    [
        (HEAD, False),  # headers not ended
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (HEAD + b"Content-Length: 4\r\n\r\nabc", False),
        (HEAD + b"content-length: 4\r\n\r\nabcd", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", True),
        (HEAD + b"Content-Length: 9\r\nExpect: 100-continue\r\n\r\n", True),  # waits for our 100
    ],
)
def test_request_complete(buffered, complete):
    assert request_complete(buffered) is complete
