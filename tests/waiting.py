"""The one way tests wait for something another process, thread or browser does: poll a condition.

Never a bare ``sleep`` (too short under load, wasted time otherwise) and never a lookup right after an
action that starts a page load or a background step: wait for the state the next line relies on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    *,
    what: str,
    timeout: float = 60,
    interval: float = 0.2,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` until it returns something truthy, and return that; exceptions in
    ``ignoring`` count as "not yet" (e.g. an element of a page that is still loading). After
    ``timeout`` seconds, AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if value := condition():
                return value
        except ignoring:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
