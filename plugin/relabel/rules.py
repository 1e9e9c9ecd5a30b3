"""Decisions on evidence: a confidence bound and a minimum, never a raw ratio.

Three rules act on small counts, where a raw ratio mostly measures luck:

* **low batch agreement** (:func:`kappa_alert_due`): a category's guideline alert fires when the upper
  end of its bootstrap interval lies below the kappa threshold, on at least ``min_items`` items;
* **systematic gold error** (:func:`systematic_error`): an annotator's accuracy on one class is
  judged by the upper Wilson bound at ``confidence``, not by "3 of 5 wrong";
* **suspect gold item** (:func:`suspect_gold_item`): an item is suspect when the lower Wilson bound
  of its miss rate among good annotators exceeds the miss rate they are allowed (1 - threshold).

``bench/simulate_relabel_rules.py`` measures each against the raw rule it replaces (false alerts of
well-behaved annotators, batches and items, and how fast real problems are still caught).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.quality.accuracy import wilson_interval

SYSTEMATIC_CONFIDENCE = 0.95  # two-sided Wilson level: 2.5 % one-sided per pattern (see the simulation)
SUSPECT_ITEM_CONFIDENCE = 0.99


def kappa_alert_due(category: Mapping[str, Any], threshold: float, min_items: int) -> bool:
    """A category's kappa is below ``threshold`` on evidence: its interval's upper end is, over at
    least ``min_items`` items. Without an interval (no bootstrap) the point estimate decides, still
    only over ``min_items`` items."""
    if category.get("kappa") is None or int(category.get("n") or 0) < min_items:
        return False
    ci = category.get("ci")
    upper = ci[1] if ci and ci[1] is not None else category["kappa"]
    return bool(upper < threshold)


def raw_kappa_alert(category: Mapping[str, Any], threshold: float) -> bool:
    """The rule :func:`kappa_alert_due` replaced (the point estimate alone), kept for the simulation."""
    return category.get("kappa") is not None and category["kappa"] < threshold


def systematic_error(
    right: int, n: int, *, accuracy: float, min_answers: int, confidence: float = SYSTEMATIC_CONFIDENCE
) -> bool:
    """An annotator's accuracy on a class is below ``accuracy`` with confidence: the upper Wilson bound
    of ``right`` of ``n`` lies below it, on at least ``min_answers`` gold answers.

    >>> systematic_error(2, 5, accuracy=0.6, min_answers=5)   # the raw cut took this (40 % right)
    False
    >>> systematic_error(0, 5, accuracy=0.6, min_answers=5)
    True
    >>> systematic_error(3, 12, accuracy=0.6, min_answers=5)   # 25 % right on more answers
    True
    """
    if n < min_answers:
        return False
    _, upper = wilson_interval(right, n, confidence_level=confidence)
    return bool(upper < accuracy)


def raw_systematic_error(right: int, n: int, *, accuracy: float, min_answers: int) -> bool:
    """The rule :func:`systematic_error` replaced: at least ``min_answers`` answers, ratio at or below."""
    return n >= min_answers and right / n <= accuracy


def suspect_gold_item(
    good_misses: int, good_answers: int, *, threshold: float, confidence: float = SUSPECT_ITEM_CONFIDENCE
) -> bool:
    """Good annotators miss this item more often than their accuracy allows, with confidence: the
    lower Wilson bound of their miss rate exceeds ``1 - threshold`` (at least two answers).

    >>> suspect_gold_item(1, 2, threshold=0.9)   # the raw rule took one miss in two
    False
    >>> suspect_gold_item(2, 2, threshold=0.9), suspect_gold_item(3, 5, threshold=0.9)
    (True, True)
    """
    if good_answers < 2:
        return False
    lower, _ = wilson_interval(good_misses, good_answers, confidence_level=confidence)
    return bool(lower > 1.0 - threshold)


def raw_suspect_gold_item(good_misses: int, good_answers: int) -> bool:
    """The rule :func:`suspect_gold_item` replaced: two answers, half or more missed."""
    return good_answers >= 2 and 2 * good_misses >= good_answers
