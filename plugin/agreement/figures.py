"""A batch's agreement figures from its paired labels. Pure: no store, no clock.

Which kappa
-----------
Every sampled task carries two ratings, but the two annotators are usually not the same people on
every task (whoever fetched it first). Cohen's kappa assumes two fixed raters whose individual
label habits are part of the chance model; with changing pairs "rater A" would be an arbitrary
choice that changes the result. So:

- ``cohen`` when one and the same pair labelled the whole sample (rater A = the lower user id);
- ``fleiss`` otherwise: each item has two interchangeable ratings (Fleiss' kappa with two raters per
  item, i.e. Scott's pi), which does not depend on which rating is called first.

Per-category kappa is one-vs-rest with the same method; Krippendorff's alpha (nominal) treats raters
as interchangeable in either case. Intervals are percentile bootstraps over items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugin.agreement.resample import (
    alpha_of_tables,
    category_kappa_of_tables,
    kappa_of_tables,
    percentile_interval,
    raw_agreement_of_tables,
    resampled_tables,
)
from plugin.metrics import (
    category_kappa_scores,
    confusion_table,
    count_ratings,
    fleiss_kappa_score,
    kappa_from_table,
    krippendorff_alpha,
    raw_agreement,
)

NONE = "(none)"  # one annotator drew a region (or chose a class) the other did not
TOP = 3  # confusion pairs and annotators named per category


@dataclass(frozen=True)
class PairedLabels:
    """Items rated twice: ``first[i]`` by ``first_annotator[i]``, the lower user id of the pair."""

    task_ids: tuple[int, ...]
    first: tuple[str, ...]
    second: tuple[str, ...]
    first_annotator: tuple[int, ...]
    second_annotator: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.first)

    @property
    def method(self) -> str:
        pairs = set(zip(self.first_annotator, self.second_annotator, strict=True))
        return "cohen" if len(pairs) == 1 else "fleiss"


def _none_if_nan(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _interval(values: NDArray | None) -> list[float] | None:
    if values is None:
        return None
    low, high = percentile_interval(values)
    return [float(low), float(high)]


def point_estimates(codes_a: NDArray, codes_b: NDArray, k: int, method: str) -> dict[str, Any]:
    """Kappa, per-category kappa, alpha and raw agreement, from :mod:`plugin.metrics`."""
    labels = np.arange(k)
    if method == "cohen":
        kappa = kappa_from_table(confusion_table(codes_a, codes_b, labels=labels)[0])
        per_category = list(category_kappa_scores(codes_a, codes_b, labels=labels).values())
    else:
        counts = count_ratings(np.column_stack([codes_a, codes_b]), n_categories=k)
        kappa = fleiss_kappa_score(counts)
        per_category = [fleiss_kappa_score(np.column_stack([counts[:, c], 2 - counts[:, c]])) for c in labels]
    return {
        "kappa": kappa,
        "per_category": per_category,
        "alpha": krippendorff_alpha(np.vstack([codes_a, codes_b]).astype(float)),
        "raw_agreement": raw_agreement(codes_a, codes_b),
    }


def agreement_figures(
    pairs: PairedLabels,
    *,
    threshold: float = 0.75,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything the batch API shows, as JSON-ready values (NaN becomes None).

    Examples
    --------
    >>> pairs = PairedLabels((1, 2, 3, 4), ("a", "a", "b", "b"), ("a", "b", "b", "b"), (5,) * 4, (6,) * 4)
    >>> figures = agreement_figures(pairs, n_resamples=0)
    >>> figures["method"], figures["kappa"], figures["raw_agreement"]
    ('cohen', 0.5, 0.75)
    """
    values = sorted(set(pairs.first) | set(pairs.second))
    code = {v: i for i, v in enumerate(values)}
    codes_a = np.array([code[v] for v in pairs.first], dtype=np.int64)
    codes_b = np.array([code[v] for v in pairs.second], dtype=np.int64)
    k, method = len(values), pairs.method
    point = point_estimates(codes_a, codes_b, k, method)
    tables = (
        resampled_tables(codes_a, codes_b, k, n_resamples=n_resamples, rng=np.random.default_rng(seed))
        if n_resamples and len(pairs)
        else None
    )
    category_boot = category_kappa_of_tables(tables, method=method) if tables is not None else None
    table = confusion_table(codes_a, codes_b, labels=np.arange(k))[0]
    per_category = []
    for c, label in enumerate(values):
        if label == NONE:
            continue
        kappa_c = _none_if_nan(point["per_category"][c])
        per_category.append(
            {
                "label": label,
                "kappa": kappa_c,
                "ci": _interval(category_boot[:, c]) if category_boot is not None else None,
                "n": int(table[c, :].sum() + table[:, c].sum() - table[c, c]),
                "below_threshold": kappa_c is not None and kappa_c < threshold,
                "confusions": [p for p in confusion_pairs(table, values) if label in (p["a"], p["b"])][:TOP],
                "annotators": annotators_involved(pairs, label)[:TOP],
            }
        )
    return {
        "method": method,
        "n_items": len(pairs),
        "n_tasks": len(set(pairs.task_ids)),
        "annotators": sorted(set(pairs.first_annotator) | set(pairs.second_annotator)),
        "kappa": _none_if_nan(point["kappa"]),
        "kappa_ci": _interval(kappa_of_tables(tables, method=method)) if tables is not None else None,
        "alpha": _none_if_nan(point["alpha"]),
        "alpha_ci": _interval(alpha_of_tables(tables)) if tables is not None else None,
        "raw_agreement": _none_if_nan(point["raw_agreement"]),
        "raw_agreement_ci": _interval(raw_agreement_of_tables(tables)) if tables is not None else None,
        "per_category": per_category,
        "confusions": confusion_pairs(table, values),
    }


def confusion_pairs(table: NDArray, values: Sequence[str]) -> list[dict[str, Any]]:
    """Unordered pairs of different labels given to one item, most frequent first."""
    both = table + table.T
    rows, cols = np.triu_indices(len(values), k=1)
    pairs = [
        {"a": values[i], "b": values[j], "count": int(both[i, j])} for i, j in zip(rows, cols, strict=True)
    ]
    return sorted((p for p in pairs if p["count"]), key=lambda p: (-p["count"], p["a"], p["b"]))


def annotators_involved(pairs: PairedLabels, label: str) -> list[dict[str, int]]:
    """Annotators in the disagreements on ``label`` (one said it, the other did not), most first.

    ``gave_label`` counts the disagreements where this annotator was the one who said ``label``.
    """
    disagreements: Counter[int] = Counter()
    gave: Counter[int] = Counter()
    for a, b, who_a, who_b in zip(
        pairs.first, pairs.second, pairs.first_annotator, pairs.second_annotator, strict=True
    ):
        if (a == label) == (b == label):
            continue
        disagreements.update((who_a, who_b))
        gave[who_a if a == label else who_b] += 1
    ranked = sorted(disagreements, key=lambda who: (-disagreements[who], -gave[who], who))
    return [
        {"annotator_id": who, "disagreements": disagreements[who], "gave_label": gave[who]} for who in ranked
    ]
