"""``lsqa sync`` and the initial sync of ``lsqa connect``: a pass run to its end, with its progress
on the terminal (one line rewritten in place on a TTY, a line per page otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from plugin.sync.passes import PassProgress
from plugin.sync.runner import SyncReport, describe, sync_project

if TYPE_CHECKING:
    from plugin.labelstudio import LabelStudioAdapter
    from plugin.settings import Settings
    from plugin.store import Store

REDRAW_SECONDS = 0.5


class ProgressLine:
    """Prints a pass's progress: in place on a terminal, otherwise at most every few seconds."""

    def __init__(self, project_id: int, out: TextIO | None = None) -> None:
        # sys.stderr as it is now, not as it was at import (a replaced stream may be closed since)
        self.project_id, self.out = project_id, out if out is not None else sys.stderr
        self.tty = self.out.isatty()
        self._last = 0.0
        self._width = 0

    def __call__(self, progress: PassProgress) -> None:
        now = time.monotonic()
        if now - self._last < (REDRAW_SECONDS if self.tty else 5.0):
            return
        self._last = now
        text = describe(self.project_id, progress)
        if progress.total:
            text += f" ({100 * progress.done / max(progress.total, 1):.0f} %)"
        if progress.waiting:
            text += " - processing the events found so far"
        if self.tty:
            self.out.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.out.write("\n")
            self.out.flush()


def run_sync(
    settings: Settings, store: Store, adapter: LabelStudioAdapter, project_id: int, *, full: bool = False
) -> SyncReport:
    """A pass over the project, processing the events it writes with a worker of its own (the
    service's workers may process them too: events are claimed, never run twice)."""
    from plugin.worker import Worker

    worker = Worker(store, settings)
    line = ProgressLine(project_id)
    try:
        return sync_project(
            store,
            adapter,
            project_id,
            kind="full" if full else None,
            drain=worker.process_batch,
            progress=line,
            page_size=settings["worker.sync_page_size"],
        )
    finally:
        line.close()
