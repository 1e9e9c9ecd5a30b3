"""Running totals of an audit: gold units by class and annotator, records, overlaps, confusions.

Chunks of :class:`plugin.offline.compare.ChunkScores` are folded in as they come, so memory holds
the totals (classes x annotators cells), one overlap value per matched region and one row per
record with errors -- not the export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugin.labelconfig import LabelConfig
from plugin.offline.compare import ChunkScores, score_chunk
from plugin.offline.reader import Comparison
from plugin.scoring.settings import ScoringSettings

_SHIFT = 1 << 24  # cell key = class code * _SHIFT + annotator code
BAND = (0.70, 0.85)


@dataclass(frozen=True)
class FlaggedRecord:
    """A compared annotation with at least one gold unit in error."""

    record: Any
    annotator: Any
    units: int
    errors: int
    missing: int
    extras: int


@dataclass
class Tally:
    """Totals over every chunk folded in so far."""

    codes: dict[str, int] = field(default_factory=dict)
    annotators: dict[Any, int] = field(default_factory=dict)
    cells: Counter[int] = field(default_factory=Counter)  # key -> units
    cell_errors: Counter[int] = field(default_factory=Counter)
    cell_missing: Counter[int] = field(default_factory=Counter)
    confusions: Counter[tuple[int, int]] = field(default_factory=Counter)
    records: Counter[int] = field(default_factory=Counter)  # annotator code -> records compared
    records_with_errors: Counter[int] = field(default_factory=Counter)
    extras: Counter[int] = field(default_factory=Counter)  # annotator code -> extra regions/values
    overlaps: dict[str, list[NDArray]] = field(default_factory=dict)
    band: Counter[int] = field(default_factory=Counter)  # annotator code -> matched regions in BAND
    matched: Counter[int] = field(default_factory=Counter)  # annotator code -> matched regions
    flagged: list[FlaggedRecord] = field(default_factory=list)
    skipped_tags: set[str] = field(default_factory=set)

    def add_chunk(self, chunk: Sequence[Comparison], scores: ChunkScores) -> None:
        who = np.array(
            [self.annotators.setdefault(c.annotator, len(self.annotators)) for c in chunk], np.int64
        )
        record, label, error, missing = scores.units()
        keys = label * _SHIFT + who[record]
        unique, inverse = np.unique(keys, return_inverse=True)
        for name, weights in ((self.cells, None), (self.cell_errors, error), (self.cell_missing, missing)):
            counts = np.bincount(inverse, weights=weights, minlength=len(unique))
            name.update(dict(zip(unique.tolist(), counts.astype(np.int64).tolist(), strict=True)))
        self.confusions.update(scores.confused)
        self._add_records(chunk, who, scores, record, error, missing)
        for kind, parts in scores.overlap.items():
            values = np.concatenate(parts)
            owners = who[np.concatenate(scores.overlap_record[kind])]
            self.overlaps.setdefault(kind, []).append(values)
            inside = (values >= BAND[0]) & (values < BAND[1])
            _add_counts(self.matched, owners, None)
            _add_counts(self.band, owners, inside)
        self.skipped_tags |= scores.skipped_tags

    def _add_records(
        self,
        chunk: Sequence[Comparison],
        who: NDArray,
        scores: ChunkScores,
        record: NDArray,
        error: NDArray,
        missing: NDArray,
    ) -> None:
        n = len(chunk)
        units = np.bincount(record, minlength=n)
        errors = np.bincount(record, weights=error, minlength=n).astype(np.int64)
        missed = np.bincount(record, weights=missing, minlength=n).astype(np.int64)
        _add_counts(self.records, who, None)
        _add_counts(self.records_with_errors, who, errors > 0)
        _add_counts(self.extras, who, None, weights=scores.extras)
        for i in np.flatnonzero(errors > 0).tolist():
            c = chunk[i]
            self.flagged.append(
                FlaggedRecord(
                    c.record,
                    c.annotator,
                    int(units[i]),
                    int(errors[i]),
                    int(missed[i]),
                    int(scores.extras[i]),
                )
            )

    # -- read-outs ------------------------------------------------------------------------------

    def matrix(self) -> tuple[list[str], list[Any], NDArray, NDArray, NDArray]:
        """Class names, annotators, and units / errors / missing as ``(classes, annotators)`` arrays."""
        names = sorted(self.codes, key=self.codes.__getitem__)
        people = sorted(self.annotators, key=self.annotators.__getitem__)
        shape = (len(names), len(people))
        units, errors, missing = (
            np.zeros(shape, np.int64),
            np.zeros(shape, np.int64),
            np.zeros(shape, np.int64),
        )
        for target, counter in (
            (units, self.cells),
            (errors, self.cell_errors),
            (missing, self.cell_missing),
        ):
            for key, count in counter.items():
                target[key // _SHIFT, key % _SHIFT] += count
        return names, people, units, errors, missing

    def overlap_values(self, kind: str | None = None) -> NDArray:
        kinds = [kind] if kind else sorted(self.overlaps)
        parts = [p for k in kinds for p in self.overlaps.get(k, [])]
        return np.concatenate(parts) if parts else np.zeros(0)


def _add_counts(counter: Counter[int], codes: NDArray, mask: NDArray | None, weights: Any = None) -> None:
    if mask is not None:
        codes = codes[mask]
        weights = None if weights is None else np.asarray(weights)[mask]
    if not len(codes):
        return
    counts = np.bincount(codes, weights=weights)
    nonzero = np.flatnonzero(counts)
    counter.update(dict(zip(nonzero.tolist(), counts[nonzero].astype(np.int64).tolist(), strict=True)))


def tally_comparisons(
    comparisons: Iterable[Comparison],
    config: LabelConfig,
    *,
    settings: ScoringSettings | None = None,
    chunk_size: int = 4096,
) -> Tally:
    """Score every comparison against gold, ``chunk_size`` at a time, into one :class:`Tally`."""
    settings = settings or ScoringSettings()
    tally = Tally()
    chunk: list[Comparison] = []
    for comparison in comparisons:
        chunk.append(comparison)
        if len(chunk) >= chunk_size:
            tally.add_chunk(chunk, score_chunk(chunk, config, settings, tally.codes))
            chunk = []
    if chunk:
        tally.add_chunk(chunk, score_chunk(chunk, config, settings, tally.codes))
    return tally
