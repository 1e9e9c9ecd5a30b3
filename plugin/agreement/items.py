"""From two annotators' Label Studio results on each sampled task to paired labels. Pure.

The comparison is the scoring engine's (:func:`plugin.scoring.score_task`, one annotation taken
as the reference): a classification tag gives one item per task; a region tag (spans, boxes,
polygons...) gives one item per matched pair of regions, and one per unmatched region paired with
``(none)``. Only categorical tags count (choices, taxonomy, labelled regions); ratings, numbers,
text and dates are not nominal categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugin.agreement.figures import NONE, PairedLabels
from plugin.labelconfig import LabelConfig
from plugin.scoring import pairwise_region_f1, score_task
from plugin.scoring.results import is_region_tag

CATEGORICAL_TAGS = frozenset({"choices", "taxonomy"})


@dataclass(frozen=True)
class TaskPair:
    """One sampled task's two ratings; ``first_annotator`` is the lower user id."""

    task_id: int
    first_annotator: int
    first_result: Sequence[Mapping[str, Any]]
    second_annotator: int
    second_result: Sequence[Mapping[str, Any]]


def pair_of(task_id: int, annotations: Iterable[tuple[int, Sequence[Mapping[str, Any]]]]) -> TaskPair | None:
    """The task's pair: the first two different annotators, in the order given (annotation id),
    each with their latest result. None if fewer than two annotators labelled the task."""
    latest: dict[int, Sequence[Mapping[str, Any]]] = {}
    for annotator, result in annotations:
        if annotator in latest or len(latest) < 2:
            latest[annotator] = result
    if len(latest) < 2:
        return None
    (a, result_a), (b, result_b) = sorted(latest.items())
    return TaskPair(task_id, a, result_a, b, result_b)


def categorical_tags(config: LabelConfig) -> list[str]:
    return [
        name
        for name, control in config.controls.items()
        if control.tag in CATEGORICAL_TAGS or is_region_tag(control)
    ]


def paired_labels(pairs: Sequence[TaskPair], config: LabelConfig) -> PairedLabels:
    """The items of all pairs; labels are prefixed ``tag: `` when the config has several
    categorical tags, so that their categories stay apart."""
    tags = categorical_tags(config)
    prefixed = len(tags) > 1
    columns: tuple[list[Any], ...] = ([], [], [], [], [])
    for pair in pairs:
        verdict = score_task(pair.second_result, pair.first_result, config)
        for outcome in verdict.outcomes:
            if outcome.tag not in tags:
                continue
            first, second = (
                f"{outcome.tag}: {label}" if prefixed and label is not None else label or NONE
                for label in (outcome.gold, outcome.pred)
            )
            for _ in range(outcome.count):
                for column, value in zip(
                    columns,
                    (pair.task_id, first, second, pair.first_annotator, pair.second_annotator),
                    strict=True,
                ):
                    column.append(value)
    return PairedLabels(*(tuple(c) for c in columns))


def mean_pairwise_f1(pairs: Sequence[TaskPair], config: LabelConfig) -> float | None:
    """Mean over tasks and region tags of the pair's region F1; None without region tags."""
    scores = [
        f1
        for pair in pairs
        for f1 in pairwise_region_f1(pair.first_result, pair.second_result, config).values()
    ]
    return sum(scores) / len(scores) if scores else None
