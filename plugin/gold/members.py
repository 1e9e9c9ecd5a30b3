"""Who is in the organization: the people a Community gold copy must be blocked for.

Reading the member list costs one Label Studio call whatever the organization's size, but doing it
for every copy is still one call per copy for a list that rarely changes. It is read again when it is
older than ``max_age`` seconds, or when the store knows an annotator the list did not name (someone
who joined since and has started working: their events carry a ``completed_by`` we never listed).
An annotator who is still unknown right after a fresh read (they left the organization) does not
cause another read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

MEMBERS_MAX_AGE = 600.0  # seconds; a member who joins and has not worked yet is blocked within this


class MemberCache:
    def __init__(
        self,
        list_users: Callable[[], list[dict[str, Any]]],
        *,
        max_age: float = MEMBERS_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_users = list_users
        self._max_age = max_age
        self._clock = clock
        self._ids: frozenset[int] = frozenset()
        self._read_at: float | None = None
        self._unlisted: frozenset[int] = frozenset()  # known to the store, absent from the last read
        self.reads = 0

    def member_ids(self, known_annotators: Iterable[int] = ()) -> frozenset[int]:
        """The members' ids, read again if stale or if ``known_annotators`` names a newcomer."""
        newcomers = set(known_annotators) - self._ids - self._unlisted
        if self._read_at is None or newcomers or self._clock() - self._read_at > self._max_age:
            self._ids = frozenset(int(user["id"]) for user in self._list_users())
            self._read_at = self._clock()
            self._unlisted = frozenset(set(known_annotators) - self._ids)
            self.reads += 1
        return self._ids

    def forget(self) -> None:
        """Read the list again next time (e.g. after Label Studio refused a member we listed)."""
        self._read_at = None
