"""Which gold item an annotator gets next. Pure: candidates and history in, one item id out."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GoldCandidate:
    id: int
    classes: tuple[str, ...]
    source_task_id: int | None
    times_served: int


def eligible_items(
    candidates: Sequence[GoldCandidate], *, seen_items: set[int], labelled_tasks: set[int]
) -> list[GoldCandidate]:
    """The candidates an annotator may still get: not seen yet, and not from a task they labelled."""
    return [
        c
        for c in candidates
        if c.id not in seen_items and (c.source_task_id is None or c.source_task_id not in labelled_tasks)
    ]


def choose_gold_item(
    candidates: Sequence[GoldCandidate],
    *,
    seen_items: set[int],
    labelled_tasks: set[int],
    class_accuracy: Mapping[str, float],
    rng: random.Random,
    weak_below: float = 0.9,
) -> int | None:
    """Pick an item the annotator has not seen, whose source task they did not label.

    Among those, prefer items containing a class where the annotator is weak (accuracy below
    ``weak_below``), then the least exposed items, so exposure spreads over the library; ties are
    broken at random so the order cannot be learned. Returns None when nothing is eligible.
    """
    eligible = eligible_items(candidates, seen_items=seen_items, labelled_tasks=labelled_tasks)
    if not eligible:
        return None

    def rank(candidate: GoldCandidate) -> tuple[float, int, float]:
        weakness = min((class_accuracy.get(label, 1.0) for label in candidate.classes), default=1.0)
        weak = weakness if weakness < weak_below else 1.0
        return (weak, candidate.times_served, rng.random())

    return min(eligible, key=rank).id
