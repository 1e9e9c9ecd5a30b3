"""Which job attempt a Label Studio call runs in.

A call that creates something (a task, an annotation, an assignment, a pause) is not idempotent:
when its answer was lost (timeout, connection dropped after sending, 5xx), the first try may have
taken effect. The job runner (:func:`plugin.jobs.run_due_jobs`) says here which attempt of which
job is running, so the adapter (:mod:`plugin.labelstudio`) can look the object up before creating
it again, and mark what it creates with a key that stays the same across the job's attempts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Attempt:
    key: str  # the job's dedupe key: the same on every attempt
    number: int  # 1 for the first attempt
    since: datetime | None = None  # when the job was enqueued: nothing it created is older

    @property
    def is_retry(self) -> bool:
        return self.number > 1

    def marker(self, *parts: Any) -> str:
        """A key for one object this job creates, the same on every attempt of the job."""
        text = json.dumps([self.key, *parts], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


_CURRENT: ContextVar[Attempt | None] = ContextVar("lsqa_job_attempt", default=None)


@contextmanager
def running_attempt(attempt: Attempt) -> Iterator[Attempt]:
    token = _CURRENT.set(attempt)
    try:
        yield attempt
    finally:
        _CURRENT.reset(token)


def current_attempt() -> Attempt | None:
    """The job attempt running in this thread, or None outside jobs (commands, the demo)."""
    return _CURRENT.get()
