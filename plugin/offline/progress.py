"""A byte-count progress bar on stderr for reading a large file; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import IO, Any


class ProgressReader:
    """Wraps a binary file: every ``read`` advances a bar of ``label`` over the file's size.

    The bar is redrawn at most every ``interval`` seconds, so the cost is one clock read per
    ``read`` call (the export is read 1 MiB at a time).
    """

    def __init__(
        self,
        raw: IO[bytes],
        total: int,
        label: str,
        *,
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        interval: float = 0.2,
    ) -> None:
        self._raw = raw
        self._total = max(total, 1)
        self._label = label
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._interval = interval
        self._done = 0
        self._started = time.monotonic()
        self._drawn = 0.0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._done += len(data)
        if self._enabled:
            now = time.monotonic()
            if now - self._drawn >= self._interval or not data:
                self._draw(now)
        return data

    def _draw(self, now: float) -> None:
        self._drawn = now
        share = min(self._done / self._total, 1.0)
        filled = int(share * 30)
        elapsed = now - self._started
        rate = self._done / elapsed / 1e6 if elapsed > 0 else 0.0
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} "
            f"{self._done / 1e6:,.0f}/{self._total / 1e6:,.0f} MB {rate:5.1f} MB/s"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
