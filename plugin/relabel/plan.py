"""Which fix an error profile calls for: DOMAIN.md's "Choosing the fix" table as one pure function.

| error profile                                              | strategy                              |
|------------------------------------------------------------|---------------------------------------|
| rate < 8 %, random                                         | targeted relabeling of flagged records |
| rate 8-15 %, concentrated in some classes or annotators    | targeted + guideline revision + requalify |
| rate > 15 %, systematic and widespread                     | full re-annotation (new guidelines)   |
| rate 5-12 % overall, rare high-value classes at 20 %+ error | re-annotation of those rare classes only |

The rare-class row is checked before the 8-15 % row, which it overlaps: a few rare classes that
are mostly wrong are cheaper to redo whole than to hunt record by record. Used by ``lsqa relabel
plan`` (figures from hidden gold) and by the offline audit (figures from a full comparison).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TARGETED = "targeted"
TARGETED_GUIDELINES = "targeted+guideline_revision"
FULL = "full_reannotation"
RARE_CLASSES = "rare_class_reannotation"
NO_DATA = "insufficient_data"


@dataclass(frozen=True)
class PlanThresholds:
    """Cut-offs of the table (DOMAIN.md); ``rare_share`` and ``min_class_n`` are ours.

    A class is *rare* when it holds at most ``rare_share`` of the records compared; its error rate
    only counts with at least ``min_class_n`` records. A class is *concentrated* when its error rate
    is at least ``class_ratio`` times the overall rate; annotators are concentrated when at most
    ``annotator_fraction`` of them make at least ``error_mass`` of the errors.
    """

    targeted_below: float = 0.08
    full_above: float = 0.15
    rare_band: tuple[float, float] = (0.05, 0.12)
    rare_error: float = 0.20
    rare_share: float = 0.05
    min_class_n: int = 10
    class_ratio: float = 1.5
    error_mass: float = 0.5
    annotator_fraction: float = 0.25


def recommend_strategy(
    error_rate: float | None,
    per_class: Sequence[tuple[str, int, float]],
    per_annotator: Sequence[tuple[Any, int, float]],
    thresholds: PlanThresholds | None = None,
) -> dict[str, Any]:
    """Recommend a relabeling strategy for an error profile.

    Parameters
    ----------
    error_rate : float or None
        Overall share of records that disagree with gold (None: nothing compared yet).
    per_class : sequence of (label, n, error_rate)
        Records compared per class and the share of them in error.
    per_annotator : sequence of (annotator, n, error_share)
        Records compared per annotator and the share of *all errors* that are theirs.

    Returns
    -------
    dict
        ``{"strategy": str, "reasons": [str, ...]}``; strategy is one of ``targeted``,
        ``targeted+guideline_revision``, ``full_reannotation``, ``rare_class_reannotation``, or
        ``insufficient_data`` when there is no error rate.

    Examples
    --------
    >>> recommend_strategy(0.03, [("cat", 500, 0.03)], [("a", 500, 1.0)])["strategy"]
    'targeted'
    """
    t = thresholds or PlanThresholds()
    if error_rate is None:
        return {"strategy": NO_DATA, "reasons": ["no records compared with gold yet"]}
    reasons = [f"overall error rate {error_rate:.1%}"]
    hot_classes = _concentrated_classes(error_rate, per_class, t)
    hot_annotators = _concentrated_annotators(per_annotator, t)
    rare = _rare_bad_classes(per_class, t)
    if hot_classes:
        reasons.append("errors concentrated in classes: " + ", ".join(hot_classes))
    if hot_annotators:
        share = sum(s for who, _, s in per_annotator if str(who) in hot_annotators)
        names = ", ".join(hot_annotators)
        reasons.append(f"{len(hot_annotators)} annotator(s) make {share:.0%} of errors: {names}")
    if error_rate > t.full_above:
        reasons.append(f"above {t.full_above:.0%}: widespread, re-annotate with new guidelines")
        return {"strategy": FULL, "reasons": reasons}
    low, high = t.rare_band
    if rare and low <= error_rate <= high:
        reasons.append(
            f"rare classes at {t.rare_error:.0%}+ error: " + ", ".join(f"{c} ({r:.0%})" for c, r in rare)
        )
        return {"strategy": RARE_CLASSES, "reasons": reasons}
    if error_rate >= t.targeted_below:
        if not (hot_classes or hot_annotators):
            reasons.append("errors spread evenly: revise guidelines, watch for a move past 15%")
        else:
            reasons.append("revise the guidelines for these classes and requalify these annotators")
        return {"strategy": TARGETED_GUIDELINES, "reasons": reasons}
    reasons.append(f"below {t.targeted_below:.0%}: relabel the flagged records")
    return {"strategy": TARGETED, "reasons": reasons}


def _concentrated_classes(
    error_rate: float, per_class: Sequence[tuple[str, int, float]], t: PlanThresholds
) -> list[str]:
    if error_rate <= 0:
        return []
    return [
        label
        for label, n, rate in per_class
        if n >= t.min_class_n and rate >= t.class_ratio * error_rate and rate > 0
    ]


def _concentrated_annotators(per_annotator: Sequence[tuple[Any, int, float]], t: PlanThresholds) -> list[str]:
    """The fewest annotators holding ``error_mass`` of the errors, if they are few enough."""
    if len(per_annotator) < 2:
        return []
    ranked = sorted(per_annotator, key=lambda row: -row[2])
    chosen: list[str] = []
    mass = 0.0
    for annotator, _, share in ranked:
        if mass >= t.error_mass:
            break
        chosen.append(str(annotator))
        mass += share
    if mass < t.error_mass or len(chosen) > t.annotator_fraction * len(per_annotator):
        return []
    return chosen


def _rare_bad_classes(
    per_class: Sequence[tuple[str, int, float]], t: PlanThresholds
) -> list[tuple[str, float]]:
    total = sum(n for _, n, _ in per_class)
    if not total:
        return []
    return [
        (label, rate)
        for label, n, rate in per_class
        if n >= t.min_class_n and n / total <= t.rare_share and rate >= t.rare_error
    ]
