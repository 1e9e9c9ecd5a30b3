"""When each annotator is due for hidden gold. Pure: no clock, no store.

The rule is closed-loop rather than a sequence of random gaps: the k-th gold item of an annotator's
regular work (k = 0, 1, …) is due once they have submitted

    threshold(k) = (k + 1/2 + δ_k) / rate

regular tasks, where δ_k ∈ [−jitter, +jitter] is drawn from a keyed hash of (salt, project,
annotator, k). Anchoring every threshold to k/rate keeps the share within about one item of
``rate · n`` whatever the annotator's speed (random gaps drift, see shared/label-studio-notes.md §3:
exponential gaps gave 3.3–6.6 % for a 4 % target), while δ_k keeps the timing unpredictable to the
annotator. Because δ_k is derived, not stored, replaying events recomputes the same schedule.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GoldPlan:
    """Project-level gold settings (defaults from shared/DOMAIN.md)."""

    rate: float = 0.04  # the aim inside the 3–5 % band
    jitter: float = 0.35  # ± share of one gap
    onboarding_items: int = 5
    quiz_items: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.rate < 0.5:
            raise ValueError("gold rate must be in (0, 0.5)")
        if not 0 <= self.jitter < 0.5:
            raise ValueError("gold jitter must be in [0, 0.5)")


def jitter_for(salt: str, project_id: int, annotator_id: int, k: int, width: float) -> float:
    """A reproducible, unpredictable offset in [−width, +width] for the k-th gold item."""
    digest = hashlib.blake2b(
        f"{project_id}:{annotator_id}:{k}".encode(), key=salt.encode()[:64], digest_size=8
    )
    unit = int.from_bytes(digest.digest(), "big") / 2**64  # uniform in [0, 1)
    return (2 * unit - 1) * width


def gold_threshold(k: int, plan: GoldPlan, *, salt: str, project_id: int, annotator_id: int) -> int:
    """Regular tasks an annotator must have submitted before their k-th regular gold item is due."""
    delta = jitter_for(salt, project_id, annotator_id, k, plan.jitter)
    return max(1, math.ceil((k + 0.5 + delta) / plan.rate))


def is_gold_due(
    regular_done: int, gold_scheduled: int, plan: GoldPlan, *, salt: str, project_id: int, annotator_id: int
) -> bool:
    """True when the next regular gold item should be put in front of this annotator."""
    threshold = gold_threshold(
        gold_scheduled, plan, salt=salt, project_id=project_id, annotator_id=annotator_id
    )
    return regular_done >= threshold
