"""Simulated annotators: who they are, what they answer, and the loop that makes them work.

Each person labels through the labeling UI's own calls (``lsharness.Annotator``): take the next
task of their stream, "read" it for a while (holding its lock, as a person does), submit, repeat.
Gold copies arrive in that same stream, indistinguishable from real tasks; people answer them like
anything else, which is the point.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plugin.demo.content import CLASSES, choice_result

if TYPE_CHECKING:
    from lsharness import Annotator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    """A simulated person: a small random error rate, and optionally one systematic confusion
    (``confuses = ("billing", "account")``: every billing ticket is labelled account)."""

    name: str
    error_rate: float
    confuses: tuple[str, str] | None = None

    def describe(self) -> str:
        if self.confuses:
            return f"labels every {self.confuses[0]!r} ticket as {self.confuses[1]!r}"
        return f"careful ({self.error_rate:.0%} random slips)"


# Everyone works at the same pace. (A faster careless one looked more lifelike, but their regular
# gold then fell due faster than the service could deliver copies, and regular gold goes before
# quiz items, so the quiz never started.)
PROFILES = (
    Profile("ana", 0.01),
    Profile("ben", 0.01),
    Profile("cleo", 0.01),
    Profile("dev", 0.01, confuses=("billing", "account")),
)


def cast(size: int) -> tuple[Profile, ...]:
    """The first ``size - 1`` careful people and the confused one (``2 <= size <= len(PROFILES)``)."""
    careful = [p for p in PROFILES if p.confuses is None]
    if not 2 <= size <= len(PROFILES):
        raise ValueError(f"between 2 and {len(PROFILES)} annotators, not {size}")
    return (*careful[: size - 1], *(p for p in PROFILES if p.confuses))


def choose_label(profile: Profile, truth: str, rng: random.Random, classes: Sequence[str] = CLASSES) -> str:
    """What ``profile`` answers for a ticket whose true class is ``truth``."""
    if profile.confuses and truth == profile.confuses[0]:
        return profile.confuses[1]
    if rng.random() < profile.error_rate:
        return rng.choice([c for c in classes if c != truth])
    return truth


@dataclass
class Tally:
    """What one person did, for the progress lines."""

    submitted: int = 0
    unknown: int = 0  # texts the simulation has no truth for (should stay 0)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pace:
    """Seconds a person spends on one task (uniform in ``seconds`` × [0.6, 1.4]); and how long an
    empty stream is retried (gold copies can arrive after the real work ran out)."""

    seconds: float = 3.0
    idle_give_up: float = 20.0

    def think(self, rng: random.Random) -> float:
        return self.seconds * rng.uniform(0.6, 1.4)


def work(
    person: Annotator,
    profile: Profile,
    *,
    project_id: int,
    truth: Mapping[str, str],
    pace: Pace,
    stop: threading.Event,
    tally: Tally,
    seed: int,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Label until ``stop`` is set or the stream stays empty for ``pace.idle_give_up`` seconds."""
    rng = random.Random(seed)
    idle_since: float | None = None
    while not stop.is_set():
        try:
            task = person.next_task(project_id)
        except Exception as exc:  # a person retries when the page fails to load
            _note(tally, f"next task: {exc}", stop)
            continue
        if task is None:
            idle_since = idle_since if idle_since is not None else clock()
            if clock() - idle_since > pace.idle_give_up:
                return
            stop.wait(1.0)
            continue
        idle_since = None
        if stop.wait(pace.think(rng)):
            return
        text = str(task["data"].get("text", ""))
        if text not in truth:
            tally.unknown += 1
        label = choose_label(profile, truth.get(text, CLASSES[0]), rng)
        try:
            person.submit(task["id"], choice_result(label), project_id=project_id)
        except Exception as exc:
            _note(tally, f"submit {task['id']}: {exc}", stop)
            continue
        tally.submitted += 1


def _note(tally: Tally, error: str, stop: threading.Event) -> None:
    tally.errors.append(error)
    log.warning("simulated annotator: %s", error)
    stop.wait(1.0)
