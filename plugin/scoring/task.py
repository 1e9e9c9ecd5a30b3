"""Score one annotation (a Label Studio result list) against gold, tag by tag, into a task verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from plugin.labelconfig import ControlTag, LabelConfig
from plugin.scoring.classification import (
    score_choices,
    score_datetime,
    score_number,
    score_rating,
    score_taxonomy,
    score_textarea,
)
from plugin.scoring.regions import compare_regions, region_similarity, score_regions
from plugin.scoring.results import collect_results, is_region_tag
from plugin.scoring.settings import ScoringSettings
from plugin.scoring.verdict import TagVerdict, TaskVerdict

Result = Mapping[str, Any]
Scorer = Callable[[ControlTag, Sequence[Any], Sequence[Any], ScoringSettings], TagVerdict]

SCORERS: Mapping[str, Scorer] = {
    "choices": score_choices,
    "taxonomy": score_taxonomy,
    "rating": score_rating,
    "number": score_number,
    "textarea": score_textarea,
    "datetime": score_datetime,
}


def _scorer(control: ControlTag) -> Scorer:
    return score_regions if is_region_tag(control) else SCORERS[control.tag]


def score_task(
    result: Iterable[Result],
    gold_result: Iterable[Result],
    config: LabelConfig,
    settings: ScoringSettings | None = None,
) -> TaskVerdict:
    r"""Score one annotation's results against the gold results of the same task.

    .. math::

        \mathrm{score} = \frac{\sum_t w_t\, s_t}{\sum_t w_t}

    over the control tags :math:`t` that have a result on either side (a tag left empty by both
    is not applicable and left out; a task where every tag is empty on both sides scores 1.0).
    The task passes when its score is at least the project's ``pass_threshold``; each tag also
    carries its own pass/fail against its own threshold.

    Parameters
    ----------
    result, gold_result : iterable of dict
        Label Studio ``result`` lists (``from_name``, ``to_name``, ``type``, ``value``, ``id``,
        ``original_width``, ``original_height``...), as stored in an annotation.
    config : LabelConfig
        The project's parsed label config (:func:`plugin.labelconfig.parse_label_config`).
    settings : ScoringSettings, optional
        Thresholds, tolerances and weights, with per-tag overrides. Default: the DOMAIN defaults.

    Returns
    -------
    TaskVerdict
        Score, pass/fail, one :class:`TagVerdict` per scored tag (discrepancies and per-class
        outcomes included), and the ``from_name`` of results that could not be scored.

    Examples
    --------
    >>> from plugin.labelconfig import parse_label_config
    >>> config = parse_label_config(
    ...     '<View><Text name="t" value="$text"/>'
    ...     '<Choices name="sentiment" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices></View>'
    ... )
    >>> gold = [{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": ["pos"]}}]
    >>> pred = [{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": ["neg"]}}]
    >>> verdict = score_task(pred, gold, config)
    >>> verdict.score, verdict.passed, verdict.discrepancies[0].kind
    (0.0, False, 'label')
    """
    settings = settings or ScoringSettings()
    pred_items = collect_results(result, config)
    gold_items = collect_results(gold_result, config)
    tags: dict[str, TagVerdict] = {}
    weights: dict[str, float] = {}
    for name, control in config.controls.items():
        gold, pred = gold_items.items.get(name, []), pred_items.items.get(name, [])
        if not gold and not pred:
            continue
        tag_settings = settings.for_tag(name)
        tags[name] = _scorer(control)(control, gold, pred, tag_settings)
        weights[name] = tag_settings.weight
    total = sum(weights.values())
    score = sum(tags[n].score * w for n, w in weights.items()) / total if total else 1.0
    skipped = tuple(dict.fromkeys(pred_items.skipped + gold_items.skipped))
    return TaskVerdict(score, score >= settings.pass_threshold, settings.pass_threshold, tags, skipped)


def pairwise_region_f1(
    result_a: Iterable[Result],
    result_b: Iterable[Result],
    config: LabelConfig,
    settings: ScoringSettings | None = None,
) -> dict[str, float]:
    r"""Agreement of two annotators' regions on one task: F1 of label-agreeing one-to-one matches.

    .. math::

        F_1 = \frac{2\,|\text{matched pairs with the same label}|}{n_a + n_b}

    with matches at the tag's match threshold (``match_iou``; ``span_match_f1`` for text spans).
    Symmetric in ``a`` and ``b``; 1.0 for a tag where neither drew a region.

    Returns
    -------
    dict
        ``{region tag name: F1}`` for every region tag of ``config``.
    """
    settings = settings or ScoringSettings()
    items_a, items_b = collect_results(result_a, config).items, collect_results(result_b, config).items
    scores = {}
    for name, control in config.controls.items():
        if not is_region_tag(control) or (control.tag == "labels" and control.object_tag != "text"):
            continue
        a, b = items_a.get(name, []), items_b.get(name, [])
        tag_settings = settings.for_tag(name)
        span = control.tag == "labels"
        match = tag_settings.span_match_f1 if span else tag_settings.match_iou
        similarity = region_similarity(control, a, b, tag_settings)
        _, _, agreed = compare_regions(name, a, b, similarity, match=match, boundary=0.0)
        scores[name] = 2.0 * agreed / (len(a) + len(b)) if a or b else 1.0
    return scores
