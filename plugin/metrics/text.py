"""Similarity of free-text answers (``TextArea``)."""

from __future__ import annotations

import numpy as np


def levenshtein_distance(a: str, b: str) -> int:
    """Minimum number of single-character insertions, deletions and substitutions turning ``a`` into ``b``.

    One numpy pass per character of ``a``: within a row the insertion chain
    ``d[j] = min(d[j], d[j-1] + 1)`` is solved as ``min.accumulate(d - j) + j``.

    Examples
    --------
    >>> levenshtein_distance("kitten", "sitting")
    3
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    codes_b = np.array([ord(c) for c in b])
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, char in enumerate(a, start=1):
        substitute = row[:-1] + (codes_b != ord(char))
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, substitute)
        row = np.minimum.accumulate(best - steps) + steps
    return int(row[-1])


def normalize_text(text: str, *, case_sensitive: bool = False) -> str:
    """Collapse runs of whitespace to one space, strip, and casefold unless ``case_sensitive``.

    Examples
    --------
    >>> normalize_text("  Hello\\n  World ")
    'hello world'
    """
    collapsed = " ".join(text.split())
    return collapsed if case_sensitive else collapsed.casefold()


def edit_similarity(a: str, b: str, *, case_sensitive: bool = False) -> float:
    r"""Normalized edit similarity of two texts after :func:`normalize_text`.

    .. math::

        s(a, b) = 1 - \frac{\mathrm{lev}(a, b)}{\max(|a|, |b|)}

    Returns ``1.0`` when both normalized texts are empty.

    Examples
    --------
    >>> edit_similarity("The cat", "the  cat")
    1.0
    >>> round(edit_similarity("kitten", "sitting"), 3)
    0.571
    """
    a = normalize_text(a, case_sensitive=case_sensitive)
    b = normalize_text(b, case_sensitive=case_sensitive)
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein_distance(a, b) / longest
