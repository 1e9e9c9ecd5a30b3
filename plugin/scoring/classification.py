"""Scorers of whole-object answers: Choices, Taxonomy, Rating, Number, TextArea, DateTime.

Each takes the control tag, the gold and annotated ``value`` dicts of that tag (usually zero or
one each) and the tag's settings, and returns a :class:`TagVerdict`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from plugin.labelconfig import ControlTag
from plugin.metrics.matching import match_regions
from plugin.metrics.text import edit_similarity
from plugin.scoring.settings import ScoringSettings
from plugin.scoring.verdict import ClassOutcome, Discrepancy, DiscrepancyKind, TagVerdict

Values = Sequence[Mapping[str, Any]]


def make_verdict(
    control: ControlTag,
    settings: ScoringSettings,
    score: float,
    discrepancies: Sequence[Discrepancy] = (),
    outcomes: Sequence[ClassOutcome] = (),
    **details: float,
) -> TagVerdict:
    """Assemble a tag verdict; it passes when ``score >= settings.pass_threshold``."""
    return TagVerdict(
        tag=control.name,
        type=control.tag,
        score=float(score),
        passed=bool(score >= settings.pass_threshold),
        threshold=settings.pass_threshold,
        discrepancies=tuple(discrepancies),
        outcomes=tuple(outcomes),
        details=details,
    )


def _single_answer(control: ControlTag, gold: str | None, pred: str | None) -> tuple[list, list]:
    """Discrepancy and outcome of one gold answer against one annotated answer (either may be absent)."""
    outcomes = [ClassOutcome(control.name, gold, pred)] if gold is not None or pred is not None else []
    if gold == pred:
        return [], outcomes
    kind: DiscrepancyKind = "missing" if pred is None else "extra" if gold is None else "label"
    return [Discrepancy(kind, control.name, gold=gold, pred=pred)], outcomes


def score_choices(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    """Single choice: 1 if equal else 0. Multiple: Jaccard of the chosen sets (exact match in details)."""
    gold_set = {c for v in gold for c in v.get("choices", ())}
    pred_set = {c for v in pred for c in v.get("choices", ())}
    union = gold_set | pred_set
    jaccard = len(gold_set & pred_set) / len(union) if union else 1.0
    exact = float(gold_set == pred_set)
    if not control.multiple:
        discrepancies, outcomes = _single_answer(
            control, min(gold_set, default=None), min(pred_set, default=None)
        )
        return make_verdict(control, settings, exact, discrepancies, outcomes, exact=exact)
    discrepancies = [Discrepancy("missing", control.name, gold=c) for c in sorted(gold_set - pred_set)]
    discrepancies += [Discrepancy("extra", control.name, pred=c) for c in sorted(pred_set - gold_set)]
    outcomes = [ClassOutcome(control.name, c, c) for c in sorted(gold_set & pred_set)]
    outcomes += [ClassOutcome(control.name, d.gold, d.pred) for d in discrepancies]
    return make_verdict(control, settings, jaccard, discrepancies, outcomes, exact=exact, jaccard=jaccard)


def _path_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common / max(len(a), len(b), 1)


def score_taxonomy(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    r"""Paths matched one-to-one; a pair scores its shared prefix depth over the longer depth.

    The tag score is :math:`\sum_{\text{matched}} s / \max(n_{gold}, n_{pred})`.
    """
    gold_paths = sorted({tuple(p) for v in gold for p in v.get("taxonomy", ())})
    pred_paths = sorted({tuple(p) for v in pred for p in v.get("taxonomy", ())})
    similarity = np.array([[_path_similarity(g, p) for p in pred_paths] for g in gold_paths]).reshape(
        len(gold_paths), len(pred_paths)
    )
    rows, cols = match_regions(similarity, threshold=1e-9)
    total = max(len(gold_paths), len(pred_paths))
    score = float(similarity[rows, cols].sum()) / total if total else 1.0
    answers: list[tuple[str | None, str | None]] = [
        (" / ".join(gold_paths[r]), " / ".join(pred_paths[c])) for r, c in zip(rows, cols, strict=True)
    ]
    answers += [(" / ".join(gold_paths[r]), None) for r in sorted(set(range(len(gold_paths))) - set(rows))]
    answers += [(None, " / ".join(pred_paths[c])) for c in sorted(set(range(len(pred_paths))) - set(cols))]
    discrepancies, outcomes = [], []
    for g, p in answers:
        d, o = _single_answer(control, g, p)
        discrepancies += d
        outcomes += o
    return make_verdict(
        control, settings, score, discrepancies, outcomes, exact=float(gold_paths == pred_paths)
    )


def _score_scalar(
    control: ControlTag,
    gold: Values,
    pred: Values,
    settings: ScoringSettings,
    read: Callable[[Mapping[str, Any]], Any],
    agree: Callable[[Any, Any], bool],
) -> TagVerdict:
    g = read(gold[0]) if gold else None
    p = read(pred[0]) if pred else None
    agreed = g == p if g is None or p is None else agree(g, p)
    score = 1.0 if agreed else 0.0
    discrepancies = [] if agreed else _single_answer(control, _text(g), _text(p))[0]
    return make_verdict(control, settings, score, discrepancies)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def score_rating(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    """1 if the ratings differ by at most ``rating_tolerance``, else 0."""
    tolerance = settings.rating_tolerance
    return _score_scalar(
        control, gold, pred, settings, lambda v: v.get("rating"), lambda g, p: abs(g - p) <= tolerance
    )


def score_number(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    """1 if the numbers differ by at most ``number_tolerance``, else 0."""
    tolerance = settings.number_tolerance
    return _score_scalar(
        control, gold, pred, settings, lambda v: v.get("number"), lambda g, p: abs(g - p) <= tolerance
    )


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _datetimes_agree(gold: str, pred: str, tolerance_s: float) -> bool:
    g, p = _parse_datetime(gold), _parse_datetime(pred)
    if g is None or p is None or (g.tzinfo is None) != (p.tzinfo is None):
        return gold == pred  # unparseable (e.g. a bare year): compare as text
    return abs((g - p).total_seconds()) <= tolerance_s


def score_datetime(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    """1 if the ISO date-times differ by at most ``datetime_tolerance_s`` seconds, else 0."""
    tolerance = settings.datetime_tolerance_s
    return _score_scalar(
        control,
        gold,
        pred,
        settings,
        lambda v: v.get("datetime"),
        lambda g, p: _datetimes_agree(g, p, tolerance),
    )


def _joined_text(values: Values) -> str:
    texts = [
        t for v in values for t in ([v["text"]] if isinstance(v.get("text"), str) else v.get("text", ()))
    ]
    return "\n".join(texts)


def score_textarea(control: ControlTag, gold: Values, pred: Values, settings: ScoringSettings) -> TagVerdict:
    """Normalized edit similarity of the texts (lines joined); below the pass threshold, a ``label`` issue."""
    g, p = _joined_text(gold), _joined_text(pred)
    score = edit_similarity(g, p, case_sensitive=settings.text_case_sensitive)
    discrepancies = []
    if score < settings.pass_threshold:
        discrepancies = _single_answer(control, g or None, p or None)[0]
    return make_verdict(control, settings, score, discrepancies)
