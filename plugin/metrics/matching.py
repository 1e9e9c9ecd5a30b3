"""One-to-one matching of regions (gold rows, annotated columns) on a similarity matrix.

A pair can match only when its similarity (IoU, character F1, keypoint similarity) reaches the
match threshold. Among all one-to-one matchings of such pairs we take, first, the most pairs whose
labels agree and then the largest total similarity -- an optimal assignment
(``scipy.optimize.linear_sum_assignment``), as in COCO-style evaluation where boxes only match
within their class, except that here a wrong-label match is kept (it is a label error, not a miss).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment


def match_regions(
    similarity: ArrayLike, *, threshold: float, same_label: ArrayLike | None = None
) -> tuple[NDArray, NDArray]:
    r"""Optimal one-to-one matching of rows to columns at a similarity threshold.

    Maximizes, over matchings that use only pairs with :math:`s_{ij} \ge t`,

    .. math::

        \sum_{(i, j)} \left( s_{ij} + B\,[\ell_i = \ell_j] \right), \qquad B = \min(n, m) + 1,

    so that label-agreeing pairs come first (``B`` exceeds any possible similarity sum) and total
    similarity breaks ties.

    Parameters
    ----------
    similarity : array-like of shape (n, m)
        Similarity in [0, 1] of row ``i`` (gold) with column ``j`` (annotation).
    threshold : float
        Minimum similarity of a matched pair, > 0.
    same_label : array-like of bool, shape (n, m), optional
        Whether the labels of ``i`` and ``j`` agree. Default: ignore labels.

    Returns
    -------
    rows, cols : ndarray of int
        Matched pairs, ``rows`` increasing.

    Examples
    --------
    >>> rows, cols = match_regions([[0.9, 0.6], [0.7, 0.0]], threshold=0.5)
    >>> rows.tolist(), cols.tolist()
    ([0, 1], [1, 0])
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    sim = np.asarray(similarity, dtype=float)
    candidate = sim >= threshold
    if not candidate.any():
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    weight = np.where(candidate, sim, 0.0)
    if same_label is not None:
        weight += np.where(candidate & np.asarray(same_label, dtype=bool), min(sim.shape) + 1.0, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    keep = candidate[rows, cols]
    return rows[keep], cols[keep]


def batched_match_regions(
    similarity: ArrayLike, *, threshold: float, same_label: ArrayLike | None = None
) -> tuple[NDArray, int]:
    """:func:`match_regions` for many frames at once: ``(f, n, m)`` similarities.

    In a frame where every row and every column has at most one candidate pair (similarity at or
    above the threshold), the candidate pairs are vertex-disjoint, hence themselves a matching that
    contains every other one: it is the unique optimum whatever the weights, and it is read off with
    one ``argmax`` for all such frames together. Only the remaining *ambiguous* frames (a region
    overlapping two others above the threshold, e.g. duplicate boxes) go through
    ``linear_sum_assignment`` one by one. The result equals :func:`match_regions` on every frame.

    Parameters
    ----------
    similarity : array-like of shape (f, n, m)
        Per-frame similarity; padding rows or columns must be 0 (or NaN).
    threshold : float
        Minimum similarity of a matched pair, > 0.
    same_label : array-like of bool, shape (f, n, m), optional
        Whether labels agree, as in :func:`match_regions`.

    Returns
    -------
    match : ndarray of shape (f, n), int
        Column matched to each row, ``-1`` when unmatched.
    n_ambiguous : int
        Number of frames solved by ``linear_sum_assignment``.

    Examples
    --------
    >>> match, n_ambiguous = batched_match_regions([[[0.9, 0.0], [0.0, 0.2]]], threshold=0.5)
    >>> match.tolist(), n_ambiguous
    ([[0, -1]], 0)
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    sim = np.asarray(similarity, dtype=float)
    candidate = sim >= threshold
    per_row = candidate.sum(axis=2)
    per_col = candidate.sum(axis=1)
    ambiguous = (per_row > 1).any(axis=1) | (per_col > 1).any(axis=1)
    match = np.where(per_row == 1, candidate.argmax(axis=2), -1)
    labels = None if same_label is None else np.asarray(same_label, dtype=bool)
    frames = np.flatnonzero(ambiguous)
    for f in frames:
        frame_labels = None if labels is None else labels[f]
        rows, cols = match_regions(sim[f], threshold=threshold, same_label=frame_labels)
        match[f] = -1
        match[f, rows] = cols
    return match, len(frames)
