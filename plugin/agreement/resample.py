"""Bootstrap of two-rater agreement statistics, vectorized over resamples. Pure.

Every statistic of two raters on nominal labels is a function of their ``k × k`` confusion table,
so a resample is just another table: all resamples' tables are counted with one ``np.bincount``
and each statistic is evaluated on the whole ``(B, k, k)`` stack at once. The formulas are those of
:mod:`plugin.metrics.kappa` and :mod:`plugin.metrics.alpha` (which compute the point estimates),
written for a stack of tables; tests check both agree on every resample.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_CELLS_PER_CHUNK = 4_000_000  # resampled item indices held at once (~32 MB)


def resampled_tables(
    codes_a: NDArray, codes_b: NDArray, k: int, *, n_resamples: int, rng: np.random.Generator
) -> NDArray:
    """Confusion tables of ``n_resamples`` bootstrap resamples of the items, shape ``(B, k, k)``.

    Each resample draws ``n`` items with replacement; the pair of labels of an item stays together.
    """
    n = len(codes_a)
    pair_codes = np.asarray(codes_a, dtype=np.int64) * k + np.asarray(codes_b, dtype=np.int64)
    tables = np.empty((n_resamples, k * k), dtype=np.int64)
    step = max(1, MAX_CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        draws = pair_codes[rng.integers(0, n, size=(stop - start, n))]
        offsets = np.arange(stop - start)[:, None] * (k * k)
        tables[start:stop] = np.bincount((draws + offsets).ravel(), minlength=(stop - start) * k * k).reshape(
            stop - start, k * k
        )
    return tables.reshape(n_resamples, k, k)


def _margins(tables: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    t = tables.astype(float)
    n = t.sum(axis=(1, 2))
    return n, t.sum(axis=2), t.sum(axis=1), np.diagonal(t, axis1=1, axis2=2)


def _chance_corrected(p_o: NDArray, p_e: NDArray) -> NDArray:
    # p_e = 1 (one category for everything): perfect agreement, as plugin.metrics.kappa decides.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_e < 1.0, (p_o - p_e) / (1.0 - p_e), 1.0)


def kappa_of_tables(tables: NDArray, *, method: str) -> NDArray:
    """Overall kappa of each table: Cohen's (fixed raters) or Fleiss' (two interchangeable ratings)."""
    n, rows, cols, hits = _margins(tables)
    p_o = hits.sum(axis=1) / n
    if method == "cohen":
        p_e = (rows * cols).sum(axis=1) / n**2
    else:
        p_e = (((rows + cols) / (2.0 * n[:, None])) ** 2).sum(axis=1)
    return _chance_corrected(p_o, p_e)


def category_kappa_of_tables(tables: NDArray, *, method: str) -> NDArray:
    """One-vs-rest kappa of every category in each table, shape ``(B, k)``."""
    n, rows, cols, hits = _margins(tables)
    n = n[:, None]
    p_o = (n - rows - cols + 2.0 * hits) / n
    if method == "cohen":
        p_e = (rows * cols + (n - rows) * (n - cols)) / n**2
    else:
        share = (rows + cols) / (2.0 * n)
        p_e = share**2 + (1.0 - share) ** 2
    return _chance_corrected(p_o, p_e)


def alpha_of_tables(tables: NDArray) -> NDArray:
    r"""Nominal Krippendorff's alpha of two complete ratings per item, from each table.

    With :math:`m = 2n` values, coincidences :math:`o = T + T^\top` and :math:`n_c` the times
    category :math:`c` was used, :math:`\alpha = 1 - (m - 1)\,2(n - \mathrm{tr}\,T) / (m^2 - \sum_c n_c^2)`.
    """
    n, rows, cols, hits = _margins(tables)
    m = 2.0 * n
    expected = m**2 - ((rows + cols) ** 2).sum(axis=1)
    observed = 2.0 * (n - hits.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (m - 1.0) * observed / expected, 1.0)


def raw_agreement_of_tables(tables: NDArray) -> NDArray:
    n, _, _, hits = _margins(tables)
    return hits.sum(axis=1) / n


def percentile_interval(values: NDArray, confidence_level: float = 0.95) -> NDArray:
    """Lower and upper percentile bounds along the resample axis (NaN resamples left out)."""
    tail = (1.0 - confidence_level) / 2.0
    return np.nanquantile(values, [tail, 1.0 - tail], axis=0)
