"""Text spans (NER): character-level F1, exact-span F1, span overlap, for one or many documents.

A span is ``(start, end, label)`` with Label Studio's character offsets (``end`` exclusive).
Character-level scores treat each label's spans as a set of characters (overlapping spans of one
label count each character once); exact-span scores compare distinct ``(start, end, label)``.
The batch path works on flat integer arrays, sorted once, with no per-span Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Span = tuple[int, int, str]


def _f1(hits: NDArray, n_gold: NDArray, n_pred: NDArray) -> NDArray:
    total = n_gold + n_pred
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * hits / total, 1.0)


@dataclass(frozen=True)
class SpanScores:
    """Per-document span counts; every array has one entry per document.

    ``char_*`` count characters (per label, as sets); ``exact_*`` count distinct spans.
    """

    char_hits: NDArray
    gold_chars: NDArray
    pred_chars: NDArray
    exact_hits: NDArray
    gold_spans: NDArray
    pred_spans: NDArray

    def char_f1(self) -> NDArray:
        """Character-level F1 per document; 1.0 where both sides have no span."""
        return _f1(self.char_hits, self.gold_chars, self.pred_chars)

    def exact_f1(self) -> NDArray:
        """Exact-span F1 per document; 1.0 where both sides have no span."""
        return _f1(self.exact_hits, self.gold_spans, self.pred_spans)

    def micro_char_f1(self) -> float:
        """Character-level F1 over all documents pooled."""
        return float(_f1(self.char_hits.sum(), self.gold_chars.sum(), self.pred_chars.sum()))

    def micro_exact_f1(self) -> float:
        """Exact-span F1 over all documents pooled (seqeval's strict micro F1)."""
        return float(_f1(self.exact_hits.sum(), self.gold_spans.sum(), self.pred_spans.sum()))


def _sorted_spans(spans: NDArray, n_labels: int) -> tuple[NDArray, NDArray, NDArray]:
    """Distinct spans sorted by (document, label, start, end): ``(group, start, end)``."""
    doc, start, end, label = spans.T
    group = doc * n_labels + label
    bound = int(max(end.max(initial=0), start.max(initial=0))) + 1
    if group.size and spans.min() >= 0 and int(group.max()) * bound * bound < 2**62:
        # One int64 key per span: a single argsort (skipped when the input is already in order).
        key = (group * bound + start) * bound + end
        order = np.argsort(key, kind="stable") if (np.diff(key) < 0).any() else slice(None)
    else:
        order = np.lexsort((end, start, label, doc))
    group, start, end = group[order], start[order], end[order]
    distinct = np.ones(len(group), dtype=bool)
    distinct[1:] = (group[1:] != group[:-1]) | (start[1:] != start[:-1]) | (end[1:] != end[:-1])
    return group[distinct], start[distinct], end[distinct]


def _merge_intervals(group: NDArray, start: NDArray, end: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Union of overlapping intervals within each group (input sorted by group, start)."""
    if group.size == 0:
        return group, start, end
    offset = int(max(end.max(), start.max())) + 1
    reach = np.maximum.accumulate(group * offset + end)
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] * offset + start[1:] > reach[:-1]
    last = np.append(first[1:], True)
    return group[first], start[first], reach[last] - group[last] * offset


def _pairs_in_group(gold_group: NDArray, pred_group: NDArray, n_groups: int) -> tuple[NDArray, NDArray]:
    """All (gold index, pred index) pairs that share a group; ``gold_group`` must be sorted."""
    per_group = np.bincount(gold_group, minlength=n_groups)
    counts = per_group[pred_group]
    low = (np.cumsum(per_group) - per_group)[pred_group]
    pred_index = np.repeat(np.arange(len(pred_group)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(low, counts) + within, pred_index


def score_span_batch(gold: ArrayLike, pred: ArrayLike, *, n_docs: int) -> SpanScores:
    """Character-level and exact-span counts for many documents at once.

    Parameters
    ----------
    gold, pred : array-like of int, shape (k, 4)
        One row per span: ``document, start, end, label`` (documents ``0..n_docs-1``, labels coded
        as non-negative integers with the same code on both sides).
    n_docs : int
        Number of documents.

    Returns
    -------
    SpanScores
        Per-document counts, with ``char_f1()`` and ``exact_f1()``.

    Examples
    --------
    >>> gold = [[0, 0, 5, 0], [1, 0, 4, 1]]
    >>> pred = [[0, 0, 4, 0], [1, 0, 4, 0]]
    >>> scores = score_span_batch(gold, pred, n_docs=2)
    >>> scores.char_f1().round(3).tolist(), scores.exact_f1().tolist()
    ([0.889, 0.0], [0.0, 0.0])
    """
    gold = np.asarray(gold, dtype=np.int64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.int64).reshape(-1, 4)
    n_labels = int(max(gold[:, 3].max(initial=0), pred[:, 3].max(initial=0))) + 1
    g_group, g_start, g_end = _sorted_spans(gold, n_labels)
    p_group, p_start, p_end = _sorted_spans(pred, n_labels)
    gi, pi = _pairs_in_group(g_group, p_group, n_docs * n_labels)
    exact = (g_start[gi] == p_start[pi]) & (g_end[gi] == p_end[pi])
    exact_hits = np.bincount(p_group[pi[exact]] // n_labels, minlength=n_docs)
    gold_spans = np.bincount(g_group // n_labels, minlength=n_docs)
    pred_spans = np.bincount(p_group // n_labels, minlength=n_docs)

    g_group, g_start, g_end = _merge_intervals(g_group, g_start, g_end)
    p_group, p_start, p_end = _merge_intervals(p_group, p_start, p_end)
    gi, pi = _pairs_in_group(g_group, p_group, n_docs * n_labels)
    overlap = np.maximum(np.minimum(g_end[gi], p_end[pi]) - np.maximum(g_start[gi], p_start[pi]), 0)
    return SpanScores(
        char_hits=np.bincount(p_group[pi] // n_labels, weights=overlap, minlength=n_docs),
        gold_chars=np.bincount(g_group // n_labels, weights=g_end - g_start, minlength=n_docs),
        pred_chars=np.bincount(p_group // n_labels, weights=p_end - p_start, minlength=n_docs),
        exact_hits=exact_hits,
        gold_spans=gold_spans,
        pred_spans=pred_spans,
    )


def _encode_documents(gold: Sequence[Span], pred: Sequence[Span]) -> tuple[NDArray, NDArray]:
    labels = {label: code for code, label in enumerate(sorted({s[2] for s in [*gold, *pred]}))}
    encode = [[0, s[0], s[1], labels[s[2]]] for s in gold], [[0, s[0], s[1], labels[s[2]]] for s in pred]
    return np.array(encode[0], dtype=np.int64), np.array(encode[1], dtype=np.int64)


def span_f1_score(gold: Sequence[Span], pred: Sequence[Span]) -> float:
    r"""Character-level F1 of annotated spans against gold spans; a character counts only with its label.

    .. math::

        F_1 = \frac{2 \sum_\ell |G_\ell \cap P_\ell|}{\sum_\ell |G_\ell| + \sum_\ell |P_\ell|}

    where :math:`G_\ell` (:math:`P_\ell`) is the set of characters covered by gold (annotated) spans
    of label :math:`\ell`.

    Parameters
    ----------
    gold, pred : sequence of (start, end, label)
        Character offsets, ``end`` exclusive, as in Label Studio's ``labels`` results.

    Returns
    -------
    float
        F1 in [0, 1]; ``1.0`` when both are empty, ``0.0`` when exactly one is.

    Notes
    -----
    For spans that do not overlap within one side, equal to scikit-learn's micro-averaged F1 over
    per-character labels excluding the "outside" class. It differs from seqeval, which scores whole
    entities (see :func:`exact_span_f1_score`).

    Examples
    --------
    >>> span_f1_score([(0, 5, "PER")], [(0, 4, "PER")])
    0.8888888888888888
    >>> span_f1_score([(0, 5, "PER")], [(0, 5, "ORG")])
    0.0
    """
    g, p = _encode_documents(gold, pred)
    return float(score_span_batch(g, p, n_docs=1).char_f1()[0])


def exact_span_f1_score(gold: Sequence[Span], pred: Sequence[Span]) -> float:
    r"""F1 of exact span matches: a span counts only if start, end and label are all equal.

    .. math::

        F_1 = \frac{2\,|G \cap P|}{|G| + |P|}

    over the sets of distinct ``(start, end, label)``. ``1.0`` when both are empty.

    Notes
    -----
    Equal to seqeval's strict entity F1 (IOB2) and to nervaluate's ``strict`` F1 when spans of one
    side neither overlap nor touch.

    Examples
    --------
    >>> exact_span_f1_score([(0, 5, "PER"), (6, 9, "ORG")], [(0, 5, "PER")])
    0.6666666666666666
    """
    g, p = _encode_documents(gold, pred)
    return float(score_span_batch(g, p, n_docs=1).exact_f1()[0])


def span_overlap_matrix(a: ArrayLike, b: ArrayLike) -> NDArray:
    r"""Character F1 (Dice) of every span in ``a`` with every span in ``b``, labels ignored.

    .. math::

        s(A, B) = \frac{2 |A \cap B|}{|A| + |B|}

    Parameters
    ----------
    a, b : array-like of shape (n, 2) and (m, 2)
        ``start, end`` offsets.

    Examples
    --------
    >>> span_overlap_matrix([[0, 10]], [[0, 9], [20, 30]]).round(3).tolist()
    [[0.947, 0.0]]
    """
    a = np.asarray(a, dtype=float).reshape(-1, 2)
    b = np.asarray(b, dtype=float).reshape(-1, 2)
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    total = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * np.maximum(inter, 0.0) / total, 0.0)
