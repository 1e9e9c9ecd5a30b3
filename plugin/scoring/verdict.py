"""What scoring returns: discrepancies, per-class outcomes, tag and task verdicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

DiscrepancyKind = Literal["label", "missing", "extra", "boundary"]


@dataclass(frozen=True)
class Discrepancy:
    """One difference between an annotation and gold.

    ``kind`` is ``label`` (wrong class or value), ``missing`` (gold item not found), ``extra``
    (annotated item with no gold counterpart) or ``boundary`` (right class, overlap below the
    boundary threshold). ``gold``/``pred`` are the labels or values involved, ``*_id`` the region ids,
    ``overlap`` the IoU / character F1 / similarity of a matched pair.
    """

    kind: DiscrepancyKind
    tag: str
    gold: str | None = None
    pred: str | None = None
    gold_id: str | None = None
    pred_id: str | None = None
    overlap: float | None = None


@dataclass(frozen=True)
class ClassOutcome:
    """How often gold class ``gold`` was annotated as ``pred`` in control tag ``tag``.

    ``gold == pred``: correct; both set and different: confused; ``pred is None``: missed;
    ``gold is None``: spurious (annotated class with no gold counterpart).
    """

    tag: str
    gold: str | None
    pred: str | None
    count: int = 1


@dataclass
class ClassTally:
    """Per-class counts: as a gold class (correct, missed, confused as X) and as an annotated one."""

    correct: int = 0
    missed: int = 0
    spurious: int = 0
    confused_as: dict[str, int] = field(default_factory=dict)


def class_breakdown(outcomes: Iterable[ClassOutcome]) -> dict[str, dict[str, ClassTally]]:
    """Tally outcomes (of one task or many) by control tag and class.

    Examples
    --------
    >>> rows = [ClassOutcome("box", "car", "car"), ClassOutcome("box", "car", "van"),
    ...         ClassOutcome("box", None, "van")]
    >>> tally = class_breakdown(rows)["box"]
    >>> tally["car"].correct, tally["car"].confused_as, tally["van"].spurious
    (1, {'van': 1}, 1)
    """
    tallies: dict[str, dict[str, ClassTally]] = {}
    for o in outcomes:
        by_class = tallies.setdefault(o.tag, {})
        if o.gold is None:
            if o.pred is not None:
                by_class.setdefault(o.pred, ClassTally()).spurious += o.count
            continue
        tally = by_class.setdefault(o.gold, ClassTally())
        if o.pred is None:
            tally.missed += o.count
        elif o.pred == o.gold:
            tally.correct += o.count
        else:
            tally.confused_as[o.pred] = tally.confused_as.get(o.pred, 0) + o.count
    return tallies


@dataclass(frozen=True)
class TagVerdict:
    """Score of one control tag of one task against gold.

    ``details`` holds secondary figures (exact match, Jaccard, counts of matched regions...).
    """

    tag: str
    type: str
    score: float
    passed: bool
    threshold: float
    discrepancies: tuple[Discrepancy, ...] = ()
    outcomes: tuple[ClassOutcome, ...] = ()
    details: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskVerdict:
    """Score of a whole task: the weighted mean of its tags' scores.

    ``skipped`` names result tags that were not scored (unknown or unsupported ``from_name``).
    """

    score: float
    passed: bool
    threshold: float
    tags: Mapping[str, TagVerdict]
    skipped: tuple[str, ...] = ()

    @property
    def discrepancies(self) -> tuple[Discrepancy, ...]:
        return tuple(d for verdict in self.tags.values() for d in verdict.discrepancies)

    @property
    def outcomes(self) -> tuple[ClassOutcome, ...]:
        return tuple(o for verdict in self.tags.values() for o in verdict.outcomes)

    def class_breakdown(self) -> dict[str, dict[str, ClassTally]]:
        """Per-class breakdown of this task (see :func:`class_breakdown`)."""
        return class_breakdown(self.outcomes)
