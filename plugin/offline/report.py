"""Turn an audit's totals into the report: summary, per class, per annotator, boundary, profile, fix.

The keys below are stable (README "Offline audit" documents them); others may be added.

- ``summary.error_rate``: gold units in error / gold units; ``summary.records_compared``:
  annotations compared with gold.
- ``per_class[]``: ``label``, ``n`` (gold units of the class), ``error_rate``.
- ``per_annotator[]``: ``annotator``, ``n`` (gold units they were compared on), ``accuracy``,
  ``error_share`` (their errors / all errors).
- ``boundary``: ``matched_regions``, ``share_iou_070_085`` (share of matched regions whose IoU, or
  character F1 for text spans, lies in [0.70, 0.85)).
- ``recommendation``: ``strategy``, ``reasons`` (:func:`plugin.quality.plan.recommend`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugin.offline.tally import BAND, FlaggedRecord, Tally
from plugin.quality.plan import error_profile, flagged_annotators, flagged_classes, recommend
from plugin.scoring.settings import ScoringSettings

MEASURES = {"span": "character F1"}
HISTOGRAM_BINS = 20


def build_report(
    tally: Tally,
    *,
    settings: ScoringSettings | None = None,
    reader: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    top_records: int = 100,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring for the stable keys)."""
    settings = settings or ScoringSettings()
    names, people, units, errors, missing = tally.matrix()
    total_units, total_errors = int(units.sum()), int(errors.sum())
    error_rate = total_errors / total_units if total_units else 0.0
    per_class = _per_class(tally, names, units, errors, missing, total_errors, total_units)
    per_annotator = _per_annotator(tally, people, units, errors, total_errors, total_units)
    boundary = _boundary(tally, settings)
    flag_classes = {c["label"] for c in flagged_classes(error_rate, per_class)}
    flag_people = {a["annotator"] for a in flagged_annotators(error_rate, per_annotator)}
    for row in per_class:
        row["flagged"] = row["label"] in flag_classes
    for row in per_annotator:
        row["flagged"] = row["annotator"] in flag_people
    records = sum(tally.records.values())
    with_errors = sum(tally.records_with_errors.values())
    summary = {
        "error_rate": error_rate,
        "records_compared": records,
        "records_with_errors": with_errors,
        "record_accuracy": 1.0 - with_errors / records if records else None,
        "gold_units": total_units,
        "errors": total_errors,
        "missing": int(missing.sum()),
        "wrong_label": total_errors - int(missing.sum()),
        "extras": sum(tally.extras.values()),
        "classes": len(per_class),
        "annotators": len(per_annotator),
        "unscored_tags": sorted(tally.skipped_tags),
        **(reader or {}),
    }
    below = boundary["share_below_threshold"] if boundary["matched_regions"] else None
    return {
        "summary": summary,
        "per_class": per_class,
        "per_annotator": per_annotator,
        "boundary": boundary,
        "error_profile": error_profile(error_rate, per_class, per_annotator, boundary_share=below),
        "recommendation": recommend(error_rate, per_class, per_annotator, boundary_share=below),
        "flagged_records": [_record_row(r) for r in worst_records(tally.flagged, top_records)],
        "source": dict(source or {}),
    }


def worst_records(flagged: list[FlaggedRecord], limit: int | None = None) -> list[FlaggedRecord]:
    """Records with errors, most errors first (then by record)."""
    ordered = sorted(flagged, key=lambda r: (-r.errors, -r.missing, str(r.record)))
    return ordered if limit is None else ordered[:limit]


def _record_row(r: FlaggedRecord) -> dict[str, Any]:
    return {
        "record": r.record,
        "annotator": r.annotator,
        "units": r.units,
        "errors": r.errors,
        "missing": r.missing,
        "extras": r.extras,
    }


def _per_class(
    tally: Tally,
    names: list[str],
    units: NDArray,
    errors: NDArray,
    missing: NDArray,
    total_errors: int,
    total_units: int,
) -> list[dict[str, Any]]:
    n, e, m = units.sum(axis=1), errors.sum(axis=1), missing.sum(axis=1)
    rows = []
    for code, label in enumerate(names):
        if not n[code]:
            continue  # only ever annotated, never a gold class
        confused = sorted(
            ((count, names[p]) for (g, p), count in tally.confusions.items() if g == code), reverse=True
        )
        rows.append(
            {
                "label": label,
                "n": int(n[code]),
                "errors": int(e[code]),
                "error_rate": float(e[code] / n[code]),
                "missing": int(m[code]),
                "wrong_label": int(e[code] - m[code]),
                "unit_share": float(n[code] / total_units),
                "error_share": float(e[code] / total_errors) if total_errors else 0.0,
                "confused_as": [{"label": name, "count": count} for count, name in confused[:3]],
            }
        )
    return sorted(rows, key=lambda r: (-r["error_rate"], r["label"]))


def _per_annotator(
    tally: Tally, people: list[Any], units: NDArray, errors: NDArray, total_errors: int, total_units: int
) -> list[dict[str, Any]]:
    n, e = units.sum(axis=0), errors.sum(axis=0)
    rows = []
    for code, who in enumerate(people):
        records = tally.records[code]
        matched = tally.matched[code]
        rows.append(
            {
                "annotator": who,
                "n": int(n[code]),
                "errors": int(e[code]),
                "accuracy": float(1.0 - e[code] / n[code]) if n[code] else None,
                "error_share": float(e[code] / total_errors) if total_errors else 0.0,
                "work_share": float(n[code] / total_units) if total_units else 0.0,
                "records": records,
                "record_accuracy": 1.0 - tally.records_with_errors[code] / records if records else None,
                "extras": tally.extras[code],
                "matched_regions": matched,
                "share_iou_070_085": tally.band[code] / matched if matched else None,
            }
        )
    return sorted(rows, key=lambda r: (-r["error_share"], str(r["annotator"])))


def _threshold(kind: str, settings: ScoringSettings) -> float:
    return settings.span_boundary_f1 if kind == "span" else settings.boundary_iou


def _figures(values: NDArray, threshold: float | None) -> dict[str, Any]:
    if not len(values):
        return {"matched_regions": 0, "share_iou_070_085": 0.0, "mean": None, "median": None}
    figures = {
        "matched_regions": int(len(values)),
        "share_iou_070_085": float(((values >= BAND[0]) & (values < BAND[1])).mean()),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
    }
    if threshold is not None:
        figures["threshold"] = threshold
        figures["share_below_threshold"] = float((values < threshold).mean())
    return figures


def _boundary(tally: Tally, settings: ScoringSettings) -> dict[str, Any]:
    by_kind = {
        kind: {
            "measure": MEASURES.get(kind, "IoU"),
            **_figures(tally.overlap_values(kind), _threshold(kind, settings)),
        }
        for kind in sorted(tally.overlaps)
    }
    values = tally.overlap_values()
    below = sum(int((tally.overlap_values(k) < _threshold(k, settings)).sum()) for k in tally.overlaps)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    measures = sorted({MEASURES.get(k, "IoU") for k in tally.overlaps})
    quantiles = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9]).tolist() if len(values) else None
    return {
        **_figures(values, None),
        "measure": " / ".join(measures) or "IoU",
        "band": list(BAND),
        "share_below_threshold": below / len(values) if len(values) else 0.0,
        "quantiles": None
        if quantiles is None
        else dict(zip(("p10", "p25", "p50", "p75", "p90"), quantiles, strict=True)),
        "histogram": {"edges": np.round(edges, 4).tolist(), "counts": counts.tolist()},
        "by_kind": by_kind,
    }
