"""Choose the fix for an error profile: DOMAIN.md's "Choosing the fix" table as one pure function.

Used by ``lsqa relabel plan`` (figures from the project's gold answers, plugin/relabel/profile.py)
and by ``lsqa audit`` / ``lsqa report`` (figures from a full comparison, plugin/offline/report.py).

- rate < 8 %, random: targeted relabeling of flagged records;
- rate 8-15 %, concentrated in some classes or annotators: targeted relabeling + guideline revision
  (+ requalify those annotators);
- rate > 15 %, systematic and widespread: full re-annotation with new guidelines (and annotators);
- rate 5-12 % overall but rare (high-value) classes at 20 %+ error: full re-annotation of those
  rare classes only.

The rare-class row is checked before the 8-15 % row, which it overlaps. The table leaves gaps; they
are closed on purpose: above 15 % but concentrated, fixing the sources (guidelines, people) still
beats starting over, so the second row applies; 8-15 % spread evenly has no source to fix, so it
stays targeted relabeling (with a note that the rate is high).

A class or annotator *stands out* when it has at least 10 units, its error rate is at least 1.5
times the overall rate and 5 points above it, and the lower end of its 95 % Wilson interval is
above the overall rate (so a handful of units cannot flag anyone). Errors are *concentrated* when
the classes or annotators that stand out cause at least 40 % of all errors and at least 1.5 times
their share of the work. A class is *rare* when it holds at most 5 % of the units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugin.quality.accuracy import wilson_interval

TARGETED = "targeted relabeling"
TARGETED_GUIDELINES = "targeted relabeling + guideline revision"
FULL = "full re-annotation"
RARE_CLASSES = "full re-annotation of rare classes"
STRATEGIES = (TARGETED, TARGETED_GUIDELINES, FULL, RARE_CLASSES)

TARGETED_BELOW = 0.08
FULL_ABOVE = 0.15
RARE_BAND = (0.05, 0.12)
RARE_ERROR = 0.20
RARE_CLASS_SHARE = 0.05
CONCENTRATION_SHARE = 0.40
MIN_UNITS = 10
BOUNDARY_SHARE = 0.05


def stands_out(errors: float, n: float, overall: float) -> bool:
    """Whether ``errors`` out of ``n`` is clearly worse than the ``overall`` error rate."""
    if n < MIN_UNITS:
        return False
    rate = errors / n
    lower, _ = wilson_interval(min(round(errors), int(n)), int(n))
    return rate >= 1.5 * overall and rate >= overall + 0.05 and float(lower) > overall


def flagged_classes(error_rate: float, per_class: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Classes whose error rate stands out, worst first."""
    rows = [c for c in per_class if stands_out(c["n"] * c["error_rate"], c["n"], error_rate)]
    return sorted(rows, key=lambda c: -c["error_rate"])


def flagged_annotators(
    error_rate: float, per_annotator: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Annotators whose error rate stands out, largest error share first."""
    compared = [a for a in per_annotator if a["n"] and a["accuracy"] is not None]  # no gold units: no rate
    rows = [a for a in compared if stands_out(a["n"] * (1.0 - a["accuracy"]), a["n"], error_rate)]
    return sorted(rows, key=lambda a: -a["error_share"])


@dataclass(frozen=True)
class _Findings:
    units: float
    classes: list[Mapping[str, Any]]
    people: list[Mapping[str, Any]]
    rare: list[Mapping[str, Any]]
    class_share: float
    people_share: float
    people_work: float
    by_classes: bool
    by_people: bool

    @classmethod
    def of(
        cls,
        error_rate: float,
        per_class: Sequence[Mapping[str, Any]],
        per_annotator: Sequence[Mapping[str, Any]],
    ) -> _Findings:
        units = sum(c["n"] for c in per_class) or 1
        class_errors = sum(c["n"] * c["error_rate"] for c in per_class)
        classes = flagged_classes(error_rate, per_class)
        people = flagged_annotators(error_rate, per_annotator)
        class_share = sum(c["n"] * c["error_rate"] for c in classes) / class_errors if class_errors else 0.0
        class_work = sum(c["n"] for c in classes) / units
        people_share = sum(a["error_share"] for a in people)
        people_work = sum(a["n"] for a in people) / (sum(a["n"] for a in per_annotator) or 1)
        rare = [c for c in classes if c["n"] / units <= RARE_CLASS_SHARE and c["error_rate"] >= RARE_ERROR]
        return cls(
            units,
            classes,
            people,
            rare,
            class_share,
            people_share,
            people_work,
            by_classes=bool(classes) and class_share >= max(CONCENTRATION_SHARE, 1.5 * class_work),
            by_people=bool(people) and people_share >= max(CONCENTRATION_SHARE, 1.5 * people_work),
        )


def error_profile(
    error_rate: float,
    per_class: Sequence[Mapping[str, Any]],
    per_annotator: Sequence[Mapping[str, Any]],
    *,
    boundary_share: float | None = None,
) -> dict[str, Any]:
    """Which of DOMAIN.md's three kinds of error the figures show: random, systematic, boundary.

    ``systematic`` when some class or annotator stands out (``concentrated`` when they cause at
    least 40 % of the errors); ``random`` when nothing stands out or the ones that do explain less
    than half of the errors; ``boundary`` when at least 5 % of matched regions are below the
    boundary threshold. ``primary`` is the first of systematic (if concentrated), boundary (if
    its share of matched regions exceeds the error rate), random.
    """
    f = _Findings.of(error_rate, per_class, per_annotator)
    explained = max(f.class_share, f.people_share)
    kinds = []
    if f.classes or f.people:
        kinds.append("systematic")
    if error_rate > 0 and explained < 0.5:
        kinds.append("random")
    boundary = boundary_share is not None and boundary_share >= BOUNDARY_SHARE
    if boundary:
        kinds.append("boundary")
    concentrated = f.by_classes or f.by_people
    if concentrated:
        primary = "systematic"
    elif boundary and (boundary_share or 0.0) > error_rate:
        primary = "boundary"
    elif error_rate > 0:
        primary = "random" if "random" in kinds else "systematic"
    else:
        primary = "none"
    return {
        "kinds": kinds,
        "primary": primary,
        "concentrated": concentrated,
        "classes": [c["label"] for c in f.classes],
        "class_error_share": f.class_share,
        "annotators": [a["annotator"] for a in f.people],
        "annotator_error_share": f.people_share,
        "annotator_work_share": f.people_work,
        "boundary_share": boundary_share,
    }


def recommend(
    error_rate: float | None,
    per_class: Sequence[Mapping[str, Any]],
    per_annotator: Sequence[Mapping[str, Any]],
    *,
    boundary_share: float | None = None,
) -> dict[str, Any]:
    """The relabel strategy for an error profile, with the figures and reasons behind it.

    Parameters
    ----------
    error_rate : float or None
        Share of units in error, overall (None: nothing compared with gold yet).
    per_class : sequence of dict
        ``{"label", "n", "error_rate"}`` per gold class.
    per_annotator : sequence of dict
        ``{"annotator", "n", "accuracy", "error_share"}`` per annotator (``error_share``: their
        errors / all errors).
    boundary_share : float, optional
        Share of matched regions below the boundary threshold; from 5 % on, a boundary review is
        added to the actions.

    Returns
    -------
    dict
        ``strategy`` (one of :data:`STRATEGIES`; None when nothing was compared), ``reasons``
        (sentences with the figures: overall rate, classes and annotators that stand out and their
        share of errors, rare classes at 20 %+ error), ``actions``, and the ``classes``,
        ``annotators`` and ``rare_classes`` the actions are about.

    Examples
    --------
    >>> plan = recommend(0.03, [{"label": "cat", "n": 500, "error_rate": 0.03}],
    ...                  [{"annotator": 1, "n": 500, "accuracy": 0.97, "error_share": 1.0}])
    >>> plan["strategy"]
    'targeted relabeling'
    """
    if error_rate is None or not any(row["n"] for row in [*per_class, *per_annotator]):
        reasons = ["nothing was compared with gold yet"]
        return {
            "strategy": None,
            "reasons": reasons,
            "actions": [],
            "classes": [],
            "annotators": [],
            "rare_classes": [],
        }
    f = _Findings.of(error_rate, per_class, per_annotator)
    classes, people, rare, by_classes, by_people = f.classes, f.people, f.rare, f.by_classes, f.by_people

    reasons = [f"overall label error {error_rate:.1%}" + _band(error_rate)]
    if classes:
        named = ", ".join(f"{c['label']} {c['error_rate']:.1%}" for c in classes)
        reasons.append(f"classes that stand out: {named} ({f.class_share:.0%} of all errors)")
    if people:
        named = ", ".join(str(a["annotator"]) for a in people)
        share, work = f.people_share, f.people_work
        reasons.append(f"annotators {named} cause {share:.0%} of all errors with {work:.0%} of the work")
    if rare:
        named = ", ".join(f"{c['label']} {c['error_rate']:.1%}" for c in rare)
        reasons.append(f"rare classes (each at most 5 % of units) at 20 %+ error: {named}")
    if not classes and not people and error_rate > 0:
        reasons.append("no class or annotator stands out: the errors look random")

    low, high = RARE_BAND
    if error_rate > FULL_ABOVE and not (by_classes or by_people):
        strategy = FULL
        actions = ["re-annotate the whole dataset with new guidelines", "review the annotator pool"]
        reasons.append("above 15 % and widespread: targeted fixes would miss most errors")
    elif low <= error_rate <= high and rare and len(rare) == len(classes) and not by_people:
        strategy = RARE_CLASSES
        actions = [f"re-annotate every record of: {', '.join(c['label'] for c in rare)}"]
        reasons.append("only rare classes stand out: redoing them whole is cheaper than hunting records")
    elif error_rate >= TARGETED_BELOW and (by_classes or by_people):
        strategy = TARGETED_GUIDELINES
        actions = ["relabel the flagged records"]
        if classes:
            actions.append(f"revise the guideline for: {', '.join(c['label'] for c in classes)}")
        if people:
            actions.append(f"requalify annotators: {', '.join(str(a['annotator']) for a in people)}")
        reasons.append("concentrated errors have a source to fix: guidelines and the people who misread them")
    else:
        strategy = TARGETED
        actions = ["relabel the flagged records"]
        if error_rate >= TARGETED_BELOW:
            reasons.append("above 8 % but spread evenly: no guideline or person to fix first")
        if people:
            actions.append(f"requalify annotators: {', '.join(str(a['annotator']) for a in people)}")
    if boundary_share is not None and boundary_share >= BOUNDARY_SHARE:
        actions.append("review region boundaries of the flagged records against gold")
        reasons.append(f"{boundary_share:.1%} of matched regions fall below the boundary threshold")
    return {
        "strategy": strategy,
        "reasons": reasons,
        "actions": actions,
        "classes": [c["label"] for c in classes],
        "annotators": [a["annotator"] for a in people],
        "rare_classes": [c["label"] for c in rare],
    }


def _band(rate: float) -> str:
    if rate < TARGETED_BELOW:
        return " (below 8 %)"
    return " (8-15 %)" if rate <= FULL_ABOVE else " (above 15 %)"
