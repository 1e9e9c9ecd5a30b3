"""Chance-corrected agreement between raters on categorical labels: Cohen's and Fleiss' kappa.

All functions are pure and vectorized: a confusion or count table is built with one
``np.bincount`` and the statistic is computed on that table.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Weights = Literal["linear", "quadratic"] | None


def _encode_pair(a: ArrayLike, b: ArrayLike, labels: ArrayLike | None) -> tuple[NDArray, NDArray, NDArray]:
    """Code two label vectors as integers ``0..k-1``; return ``(codes_a, codes_b, label_values)``.

    Non-negative integer input without ``labels`` is used as its own code (fast path: no sort).
    With ``labels``, pairs where either value is not listed are dropped, as scikit-learn does.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-d and of equal length, got shapes {a.shape} and {b.shape}")
    if labels is not None:
        values = np.asarray(labels)
        sorter = np.argsort(values, kind="stable")
        codes = []
        for x in (a, b):
            pos = np.clip(np.searchsorted(values, x, sorter=sorter), 0, len(values) - 1)
            codes.append(np.where(values[sorter[pos]] == x, sorter[pos], -1))
        keep = (codes[0] >= 0) & (codes[1] >= 0)
        return codes[0][keep], codes[1][keep], values
    if a.size and a.dtype.kind in "iub" and min(a.min(), b.min()) >= 0:
        return a, b, np.arange(max(a.max(), b.max()) + 1)
    values, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    return inverse[: a.size], inverse[a.size :], values


def confusion_table(
    a: ArrayLike, b: ArrayLike, *, labels: ArrayLike | None = None
) -> tuple[NDArray, NDArray]:
    """Count how often rater A said ``i`` while rater B said ``j``.

    Parameters
    ----------
    a, b : array-like of shape (n_items,)
        Labels of the two raters, aligned by item.
    labels : array-like, optional
        Categories to count, in this order. Items where either label is not listed are ignored.
        Default: the sorted union of both vectors (for non-negative integers ``0..max``).

    Returns
    -------
    table : ndarray of shape (k, k), int64
        ``table[i, j]`` is the number of items rated ``labels[i]`` by A and ``labels[j]`` by B.
    labels : ndarray of shape (k,)
        The category of each row and column.

    Examples
    --------
    >>> confusion_table(["x", "y", "y"], ["x", "y", "x"])[0].tolist()
    [[1, 0], [1, 1]]
    """
    codes_a, codes_b, values = _encode_pair(a, b, labels)
    k = len(values)
    table = np.bincount(codes_a * k + codes_b, minlength=k * k).reshape(k, k)
    return table, values


def _disagreement_weights(k: int, weights: Weights) -> NDArray:
    ranks = np.arange(k)
    distance = np.abs(ranks[:, None] - ranks[None, :]).astype(float)
    if weights is None:
        return (distance > 0).astype(float)
    if weights == "linear":
        return distance
    if weights == "quadratic":
        return distance**2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def kappa_from_table(table: ArrayLike, *, weights: Weights = None) -> float:
    """Cohen's kappa of a ``k × k`` confusion table (see :func:`cohen_kappa_score`)."""
    table = np.asarray(table, dtype=float)
    n = float(table.sum())
    if n == 0:
        return float("nan")
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    if weights is None:
        expected_disagreement = n - float(rows @ cols) / n
        observed_disagreement = n - float(np.trace(table))
    else:
        # Ordinal weights use the rank among categories that occur, as scikit-learn does.
        used = (rows + cols) > 0
        table, rows, cols = table[np.ix_(used, used)], rows[used], cols[used]
        w = _disagreement_weights(table.shape[0], weights)
        expected_disagreement = float((w * np.outer(rows, cols)).sum()) / n
        observed_disagreement = float((w * table).sum())
    if expected_disagreement <= 0.0:
        # Both raters used one and the same single category: perfect agreement.
        return 1.0
    return 1.0 - observed_disagreement / expected_disagreement


def cohen_kappa_score(
    a: ArrayLike, b: ArrayLike, *, labels: ArrayLike | None = None, weights: Weights = None
) -> float:
    r"""Cohen's kappa: agreement between two raters, corrected for chance.

    .. math::

        \kappa = 1 - \frac{\sum_{ij} w_{ij} o_{ij}}{\sum_{ij} w_{ij} e_{ij}},
        \qquad e_{ij} = \frac{o_{i\cdot}\, o_{\cdot j}}{n}

    where :math:`o` is the confusion table, :math:`w_{ij} = [i \ne j]` (unweighted),
    :math:`|i - j|` (linear) or :math:`(i - j)^2` (quadratic), with :math:`i, j` the ranks of the
    categories. Unweighted, this is :math:`(p_o - p_e) / (1 - p_e)`.

    Parameters
    ----------
    a, b : array-like of shape (n_items,)
        Labels given by the two raters to the same items (any sortable values).
    labels : array-like, optional
        Categories to use, in order (the order matters for weighted kappa). Items where either
        rater's label is not listed are ignored. Default: all labels that occur, sorted.
    weights : {None, "linear", "quadratic"}
        Disagreement weights for ordinal categories.

    Returns
    -------
    float
        Kappa in :math:`[-1, 1]`. Degenerate cases, decided on purpose:

        - no items: ``nan`` (no evidence either way);
        - both raters used one and the same category for every item (:math:`p_e = 1`): ``1.0``.
          scikit-learn returns ``nan`` here; for QA, two raters who agree on every item agree.

    Notes
    -----
    Equal to ``sklearn.metrics.cohen_kappa_score`` wherever that is defined.
    Cohen, J. (1960). A coefficient of agreement for nominal scales.

    Examples
    --------
    >>> round(cohen_kappa_score(["cat", "dog", "dog", "cat"], ["cat", "dog", "cat", "cat"]), 3)
    0.5
    >>> cohen_kappa_score([1, 2, 3], [1, 2, 3], weights="quadratic")
    1.0
    """
    table, _ = confusion_table(a, b, labels=labels)
    return kappa_from_table(table, weights=weights)


def category_kappa_scores(a: ArrayLike, b: ArrayLike, *, labels: ArrayLike | None = None) -> dict:
    r"""Kappa per category, one category against the rest.

    For category :math:`c`, both raters' labels are reduced to "is :math:`c`" / "is not :math:`c`"
    and Cohen's kappa is computed on that 2 × 2 table:

    .. math::

        p_o = \frac{n - r_c - s_c + 2\,o_{cc}}{n}, \quad
        p_e = \frac{r_c s_c + (n - r_c)(n - s_c)}{n^2}, \quad
        \kappa_c = \frac{p_o - p_e}{1 - p_e}

    with :math:`r_c, s_c` the number of items each rater put in :math:`c`.

    Parameters
    ----------
    a, b : array-like of shape (n_items,)
        Labels of the two raters.
    labels : array-like, optional
        Categories to report (default: all that occur). Items with an unlisted label are ignored.

    Returns
    -------
    dict
        ``{category: kappa}``. A category nobody used, or one both raters used for every item,
        gets ``1.0`` (:math:`p_e = 1`, as in :func:`cohen_kappa_score`); no items gives ``nan``.

    Examples
    --------
    >>> scores = category_kappa_scores(["a", "a", "b", "c"], ["a", "b", "b", "c"])
    >>> {k: round(v, 3) for k, v in scores.items()}
    {'a': 0.5, 'b': 0.5, 'c': 1.0}
    """
    table, values = confusion_table(a, b, labels=labels)
    table = table.astype(float)
    n = table.sum()
    if n == 0:
        return {value.item(): float("nan") for value in values}
    row, col, hit = table.sum(axis=1), table.sum(axis=0), np.diag(table)
    p_o = (n - row - col + 2 * hit) / n
    p_e = (row * col + (n - row) * (n - col)) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(p_e < 1.0, (p_o - p_e) / (1.0 - p_e), 1.0)
    return {value.item(): float(k) for value, k in zip(values, kappa, strict=True)}


def raw_agreement(a: ArrayLike, b: ArrayLike) -> float:
    r"""Share of items on which two raters gave the same label, :math:`p_o = \frac{1}{n}\sum_i [a_i = b_i]`.

    Returns ``nan`` for no items.

    Examples
    --------
    >>> raw_agreement([1, 2, 3, 4], [1, 2, 0, 4])
    0.75
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.mean(a == b)) if a.size else float("nan")


def count_ratings(ratings: ArrayLike, *, n_categories: int | None = None) -> NDArray:
    """Turn an items × raters table of category codes into an items × categories count table.

    Parameters
    ----------
    ratings : array-like of shape (n_items, n_raters)
        Integer category codes ``0..k-1``; a negative code (or NaN in a float table) means the
        rater did not rate the item.
    n_categories : int, optional
        Number of categories ``k`` (default: largest code + 1).

    Returns
    -------
    ndarray of shape (n_items, k), int64
        The input of :func:`fleiss_kappa_score` (what ``statsmodels``' ``aggregate_raters`` returns).

    Examples
    --------
    >>> count_ratings([[0, 1, 1], [2, 2, -1]]).tolist()
    [[1, 2, 0], [0, 0, 2]]
    """
    ratings = np.asarray(ratings)
    if ratings.ndim != 2:
        raise ValueError(f"ratings must be 2-d (items × raters), got shape {ratings.shape}")
    codes = np.where(np.isnan(ratings), -1, ratings) if ratings.dtype.kind == "f" else ratings
    codes = codes.astype(np.int64, copy=False)
    n_items = ratings.shape[0]
    k = int(codes.max(initial=-1)) + 1 if n_categories is None else n_categories
    flat = np.arange(n_items)[:, None] * k + codes
    if codes.size and codes.min() < 0:  # drop missing ratings
        flat = flat[codes >= 0]
    return np.bincount(flat.ravel(), minlength=n_items * k).reshape(n_items, k)


def fleiss_kappa_score(counts: ArrayLike) -> float:
    r"""Fleiss' kappa: chance-corrected agreement among any number of raters.

    .. math::

        P_i = \frac{\sum_j n_{ij}^2 - n_i}{n_i (n_i - 1)}, \quad
        p_j = \frac{\sum_i n_{ij}}{\sum_i n_i}, \quad
        \kappa = \frac{\bar P - \sum_j p_j^2}{1 - \sum_j p_j^2}

    where :math:`n_{ij}` is how many raters put item :math:`i` in category :math:`j` and
    :math:`n_i = \sum_j n_{ij}`.

    Parameters
    ----------
    counts : array-like of shape (n_items, n_categories)
        Non-negative rating counts (see :func:`count_ratings`). The number of raters may vary
        between items; items with fewer than two ratings are ignored.

    Returns
    -------
    float
        Kappa (at most 1). No item with two ratings gives ``nan``; all ratings in a single category
        (:math:`\sum_j p_j^2 = 1`) gives ``1.0`` (statsmodels returns ``nan`` there).

    Notes
    -----
    With the same number of raters on every item this is exactly Fleiss (1971) and equal to
    ``statsmodels.stats.inter_rater.fleiss_kappa(counts, method="fleiss")``. With a varying number
    of raters, :math:`\bar P` averages items equally and :math:`p_j` pools all ratings.

    Examples
    --------
    >>> round(fleiss_kappa_score([[3, 0], [0, 3], [2, 1]]), 3)
    0.55
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2:
        raise ValueError(f"counts must be 2-d (items × categories), got shape {table.shape}")
    n_i = table.sum(axis=1)
    keep = n_i >= 2
    if not keep.any():
        return float("nan")
    table, n_i = table[keep], n_i[keep]
    p_item = ((table**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_cat = table.sum(axis=0) / n_i.sum()
    p_expected = float((p_cat**2).sum())
    if p_expected >= 1.0:
        return 1.0
    return (float(p_item.mean()) - p_expected) / (1.0 - p_expected)
