"""Krippendorff's alpha for any number of raters with missing ratings.

Nominal and interval alpha are computed from per-item sums in closed form (no value × value
coincidence matrix); ordinal and ratio alpha build the coincidence matrix with one sparse or dense
product. Everything is vectorized over ratings.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

Level = Literal["nominal", "ordinal", "interval", "ratio"]

# Above this many item × value cells the per-item value counts are kept sparse.
_DENSE_CELLS_LIMIT = 20_000_000


def _pairable_ratings(data: ArrayLike) -> tuple[NDArray, NDArray, NDArray]:
    """Return ``(values, item_codes, ratings_per_item)`` of the items rated at least twice."""
    data = np.asarray(data, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"data must be 2-d (raters × items), got shape {data.shape}")
    # Flat indices are several times faster than 2-d nonzero and boolean indexing.
    rated = np.flatnonzero(~np.isnan(data))
    values = data.ravel()[rated]
    items = rated % data.shape[1]
    per_item = np.bincount(items, minlength=data.shape[1])
    pairable = per_item >= 2
    keep = pairable[items]
    item_codes = (np.cumsum(pairable) - 1)[items[keep]]
    return values[keep], item_codes, per_item[pairable]


def _code_values(values: NDArray) -> tuple[NDArray, NDArray]:
    """Code values as ``0..V-1`` in sorted order; return ``(codes, counts_per_code)``.

    Small-range integer values (the usual category codes) avoid a sort.
    """
    low, high = values.min(), values.max()
    if high - low < 4 * values.size + 64 and np.array_equal(values, np.round(values)):
        codes = (values - low).astype(np.int64)
        counts = np.bincount(codes)
        present = counts > 0
        if not present.all():
            codes = (np.cumsum(present) - 1)[codes]
            counts = counts[present]
        return codes, counts
    _, codes, counts = np.unique(values, return_inverse=True, return_counts=True)
    return codes, counts


def _nominal(values: NDArray, items: NDArray, per_item: NDArray) -> float:
    codes, n_c = _code_values(values)
    n_values = len(n_c)
    cells = np.bincount(items * n_values + codes, minlength=len(per_item) * n_values)
    same_pairs = (cells.reshape(len(per_item), n_values) ** 2).sum(axis=1)
    n = float(values.size)
    expected = n**2 - float((n_c.astype(float) ** 2).sum())
    if expected == 0.0:
        return 1.0
    observed = float(((per_item.astype(float) ** 2 - same_pairs) / (per_item - 1)).sum())
    return 1.0 - (n - 1.0) * observed / expected


def _interval(values: NDArray, items: NDArray, per_item: NDArray) -> float:
    n_items = len(per_item)
    m = per_item.astype(float)
    s1 = np.bincount(items, weights=values, minlength=n_items)
    s2 = np.bincount(items, weights=values**2, minlength=n_items)
    # Sum over ordered pairs i != j within an item of (v_i - v_j)^2 is 2 (m S2 - S1^2).
    observed = float((2.0 * (m * s2 - s1**2) / (m - 1.0)).sum())
    n = float(values.size)
    centred = values - values.mean()
    expected = 2.0 * n * float((centred**2).sum())
    if expected == 0.0:
        return 1.0
    return 1.0 - (n - 1.0) * observed / expected


def _coincidences(codes: NDArray, items: NDArray, per_item: NDArray, n_values: int) -> NDArray:
    r"""Coincidence matrix :math:`o_{ck} = \sum_u (n_{uc} n_{uk} - [c = k] n_{uc}) / (m_u - 1)`."""
    n_items = len(per_item)
    weight = 1.0 / (per_item - 1.0)
    if n_items * n_values <= _DENSE_CELLS_LIMIT:
        counts = np.bincount(items * n_values + codes, minlength=n_items * n_values)
        counts = counts.reshape(n_items, n_values).astype(float)
        products = counts.T @ (counts * weight[:, None])
    else:
        ones = np.ones(codes.size)
        counts = scipy.sparse.csr_array((ones, (items, codes)), shape=(n_items, n_values))
        products = (counts.T @ (counts * weight[:, None])).toarray()
    self_pairs = np.bincount(codes, weights=weight[items], minlength=n_values)
    return products - np.diag(self_pairs)


def _distance_matrix(level: Level, value_of_code: NDArray, n_c: NDArray) -> NDArray:
    if level == "ordinal":
        cum = np.cumsum(n_c)
        low = np.minimum.outer(np.arange(len(n_c)), np.arange(len(n_c)))
        high = np.maximum.outer(np.arange(len(n_c)), np.arange(len(n_c)))
        between = cum[high] - cum[low] + n_c[low]
        return (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    total = value_of_code[:, None] + value_of_code[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total != 0, (value_of_code[:, None] - value_of_code[None, :]) / total, 0.0)
    return ratio**2


def _from_coincidences(level: Level, values: NDArray, items: NDArray, per_item: NDArray) -> float:
    value_of_code, codes = np.unique(values, return_inverse=True)
    o = _coincidences(codes, items, per_item, len(value_of_code))
    n_c = o.sum(axis=1)
    delta = _distance_matrix(level, value_of_code, n_c)
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if expected == 0.0:
        return 1.0
    return 1.0 - (n_c.sum() - 1.0) * float((o * delta).sum()) / expected


def krippendorff_alpha(data: ArrayLike, *, level: Level = "nominal") -> float:
    r"""Krippendorff's alpha reliability of several raters' values, with missing ratings.

    .. math::

        \alpha = 1 - \frac{D_o}{D_e}
               = 1 - (n - 1)\,\frac{\sum_{c,k} o_{ck}\,\delta^2_{ck}}{\sum_{c,k} n_c n_k\,\delta^2_{ck}},
        \qquad o_{ck} = \sum_u \frac{\#\{(i, j): i \ne j,\ v_{ui} = c,\ v_{uj} = k\}}{m_u - 1}

    over the items :math:`u` rated by :math:`m_u \ge 2` raters, with :math:`n_c = \sum_k o_{ck}`,
    :math:`n = \sum_c n_c` and the difference :math:`\delta^2_{ck}`: nominal :math:`[c \ne k]`;
    ordinal :math:`(\sum_{g=c}^{k} n_g - \frac{n_c + n_k}{2})^2`; interval :math:`(c - k)^2`;
    ratio :math:`(\frac{c - k}{c + k})^2`.

    Parameters
    ----------
    data : array-like of shape (n_raters, n_items)
        Numeric values (category codes for nominal data); NaN where a rater did not rate an item.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement of the values.

    Returns
    -------
    float
        Alpha (at most 1). No item rated twice gives ``nan``; a single distinct value among all
        pairable ratings (:math:`D_e = 0`) gives ``1.0`` -- the ``krippendorff`` package raises
        ``ValueError`` for that case instead.

    Notes
    -----
    Equal to ``krippendorff.alpha(reliability_data=data, level_of_measurement=level)`` wherever
    that is defined. Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.

    Examples
    --------
    >>> nan = float("nan")
    >>> round(krippendorff_alpha([[1, 2, 3, 3], [1, 2, 3, nan], [1, 2, 2, 3]]), 3)
    0.75
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be nominal, ordinal, interval or ratio, got {level!r}")
    values, items, per_item = _pairable_ratings(data)
    if values.size == 0:
        return float("nan")
    if level == "nominal":
        return _nominal(values, items, per_item)
    if level == "interval":
        return _interval(values, items, per_item)
    return _from_coincidences(level, values, items, per_item)
