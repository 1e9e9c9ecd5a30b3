"""Compare a chunk of annotations with gold, gold unit by gold unit.

A *gold unit* is what can be right or wrong on its own: a gold region (box, span, polygon...) or a
gold class of a classification tag (``Choices``, ``Taxonomy``; one per chosen value), or the whole
answer of a scalar tag (``Rating``, ``Number``, ``TextArea``, ``DateTime``; labelled with the tag
name). A gold region is an error when the annotator's matched region is missing or carries another
label (matching as in :mod:`plugin.scoring`: one-to-one at the tag's match threshold, label-agreeing
pairs first); a classification unit when that value was not chosen; a scalar unit when the tag's
scorer fails it. Annotated regions and values with no gold counterpart are *extras*: they lower the
task score in live scoring, but they are not gold errors and are counted apart.

Rectangles of ``RectangleLabels`` tags (nearly all of a box project's volume) go through the batch
path of :mod:`plugin.scoring.boxes`, for the whole chunk at once; everything else through the
per-task scorers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from plugin.labelconfig import ControlTag, LabelConfig
from plugin.metrics.geometry import batched_box_iou, polygon_iou_matrix, rectangle_corners
from plugin.metrics.matching import match_regions
from plugin.offline.reader import Comparison
from plugin.scoring.boxes import BoxSet, box_set_from_results, score_box_batch
from plugin.scoring.regions import region_similarity
from plugin.scoring.results import GEOMETRY_KIND, collect_results, is_region_tag
from plugin.scoring.settings import ScoringSettings
from plugin.scoring.task import SCORERS

CLASS_TAGS = frozenset({"choices", "taxonomy"})


@dataclass
class ChunkScores:
    """Gold units of a chunk (parallel arrays), matched-region overlaps, and extras per record.

    ``record`` indexes the chunk's comparisons; ``label`` is a class code of the shared ``codes``.
    ``overlap[kind]`` holds the IoU (character F1 for text spans) of every matched pair of that kind.
    """

    record: list[NDArray] = field(default_factory=list)
    label: list[NDArray] = field(default_factory=list)
    error: list[NDArray] = field(default_factory=list)
    missing: list[NDArray] = field(default_factory=list)
    confused: list[tuple[int, int]] = field(default_factory=list)
    overlap: dict[str, list[NDArray]] = field(default_factory=dict)
    overlap_record: dict[str, list[NDArray]] = field(default_factory=dict)
    extras: NDArray = field(default_factory=lambda: np.zeros(0, np.int64))
    skipped_tags: set[str] = field(default_factory=set)

    def add_units(self, record: Any, label: Any, error: Any, missing: Any) -> None:
        self.record.append(np.asarray(record, np.int64))
        self.label.append(np.asarray(label, np.int64))
        self.error.append(np.asarray(error, bool))
        self.missing.append(np.asarray(missing, bool))

    def add_overlap(self, kind: str, values: Any, record: Any) -> None:
        self.overlap.setdefault(kind, []).append(np.asarray(values, float))
        self.overlap_record.setdefault(kind, []).append(np.asarray(record, np.int64))

    def units(self) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        def cat(parts: list[NDArray], dtype: Any) -> NDArray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        return (
            cat(self.record, np.int64),
            cat(self.label, np.int64),
            cat(self.error, bool),
            cat(self.missing, bool),
        )


def score_chunk(
    chunk: Sequence[Comparison], config: LabelConfig, settings: ScoringSettings, codes: dict[str, int]
) -> ChunkScores:
    """Gold units, overlaps and extras of ``chunk``; new class names are added to ``codes``."""
    scores = ChunkScores(extras=np.zeros(len(chunk), np.int64))
    box_tags = {n for n, c in config.controls.items() if c.tag == "rectanglelabels"}
    others: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    for c in chunk:
        rest = [r for r in c.result if r.get("from_name") not in box_tags]
        gold_rest = [r for r in c.gold_result if r.get("from_name") not in box_tags]
        others.append((rest, gold_rest))
    for tag in sorted(box_tags):
        _score_boxes(chunk, tag, settings.for_tag(tag), codes, scores)
    for index, (rest, gold_rest) in enumerate(others):
        if rest or gold_rest:
            _score_record(index, rest, gold_rest, config, settings, codes, scores)
    return scores


def _score_boxes(
    chunk: Sequence[Comparison], tag: str, settings: ScoringSettings, codes: dict[str, int], out: ChunkScores
) -> None:
    pred = box_set_from_results([c.result for c in chunk], tag=tag, label_codes=codes)
    gold = box_set_from_results([c.gold_result for c in chunk], tag=tag, label_codes=codes)
    if not len(gold.frame) and not len(pred.frame):
        return
    verdicts = score_box_batch(pred, gold, n_frames=len(chunk), settings=settings)
    counts = np.bincount(gold.frame, minlength=len(chunk))
    slot = np.arange(len(gold.frame)) - (np.cumsum(counts) - counts)[gold.frame]
    matched_to = verdicts.match[gold.frame, slot] if len(gold.frame) else np.zeros(0, np.int64)
    matched = matched_to >= 0
    pred_label = np.full(len(gold.frame), -1, np.int64)
    pred_label[matched] = pred.labels[matched_to[matched]]
    out.add_units(gold.frame, gold.labels, pred_label != gold.labels, ~matched)
    _add_confusions(gold.labels[matched], pred_label[matched], out)
    rows = np.flatnonzero(matched)
    out.add_overlap("box", _pair_iou(gold, pred, rows, matched_to[rows]), gold.frame[rows])
    out.extras += verdicts.extra


def _pair_iou(gold: BoxSet, pred: BoxSet, rows: NDArray, cols: NDArray) -> NDArray:
    """IoU of gold box ``rows[i]`` with annotated box ``cols[i]``; rotated pairs through shapely."""
    iou = batched_box_iou(gold.boxes[rows][:, None, :], pred.boxes[cols][:, None, :])[:, 0, 0]
    rotated = np.flatnonzero((gold.rotation[rows] != 0) | (pred.rotation[cols] != 0))
    for i in rotated:
        g, p = rows[i], cols[i]
        shapes = [
            shapely.polygons(rectangle_corners(s.boxes[[k]], s.rotation[[k]]))
            for s, k in ((gold, g), (pred, p))
        ]
        iou[i] = polygon_iou_matrix(shapes[0], shapes[1])[0, 0]
    return iou


def _add_confusions(gold: NDArray, pred: NDArray, out: ChunkScores) -> None:
    wrong = gold != pred
    out.confused.extend(zip(gold[wrong].tolist(), pred[wrong].tolist(), strict=True))


def _score_record(
    index: int,
    result: list[dict[str, Any]],
    gold_result: list[dict[str, Any]],
    config: LabelConfig,
    settings: ScoringSettings,
    codes: dict[str, int],
    out: ChunkScores,
) -> None:
    pred_items, gold_items = collect_results(result, config), collect_results(gold_result, config)
    out.skipped_tags.update(pred_items.skipped + gold_items.skipped)
    for name, control in config.controls.items():
        gold, pred = gold_items.items.get(name, []), pred_items.items.get(name, [])
        if not gold and not pred:
            continue
        tag_settings = settings.for_tag(name)
        if is_region_tag(control):
            _score_regions(index, control, gold, pred, tag_settings, codes, out)
        elif control.tag in CLASS_TAGS:
            _score_classes(index, control, gold, pred, tag_settings, codes, out)
        else:
            verdict = SCORERS[control.tag](control, gold, pred, tag_settings)
            if gold:
                code = codes.setdefault(name, len(codes))
                out.add_units([index], [code], [not verdict.passed], [not pred])
            else:
                out.extras[index] += 1


def _score_regions(
    index: int,
    control: ControlTag,
    gold: Sequence[Any],
    pred: Sequence[Any],
    settings: ScoringSettings,
    codes: dict[str, int],
    out: ChunkScores,
) -> None:
    span = control.tag == "labels" and control.object_tag == "text"
    similarity = region_similarity(control, gold, pred, settings)
    gold_codes = np.array([codes.setdefault(r.label, len(codes)) for r in gold], np.int64)
    pred_codes = np.array([codes.setdefault(r.label, len(codes)) for r in pred], np.int64)
    same = gold_codes[:, None] == pred_codes[None, :]
    threshold = settings.span_match_f1 if span else settings.match_iou
    rows, cols = match_regions(similarity, threshold=threshold, same_label=same)
    pred_label = np.full(len(gold), -1, np.int64)
    pred_label[rows] = pred_codes[cols]
    out.add_units(np.full(len(gold), index), gold_codes, pred_label != gold_codes, pred_label < 0)
    _add_confusions(gold_codes[rows], pred_codes[cols], out)
    kind = "span" if span else GEOMETRY_KIND.get(control.tag, control.tag)
    out.add_overlap(kind, similarity[rows, cols], np.full(len(rows), index))
    out.extras[index] += len(pred) - len(rows)


def _score_classes(
    index: int,
    control: ControlTag,
    gold: Sequence[Mapping[str, Any]],
    pred: Sequence[Mapping[str, Any]],
    settings: ScoringSettings,
    codes: dict[str, int],
    out: ChunkScores,
) -> None:
    # Every chosen gold value is a unit, also for single-choice tags: the scorer's outcomes say what
    # each gold value became (itself, another value, or nothing).
    outcomes = SCORERS[control.tag](control, gold, pred, settings).outcomes
    units = [(o.gold, o.pred) for o in outcomes if o.gold is not None]
    out.extras[index] += sum(1 for o in outcomes if o.gold is None)
    if not units:
        return
    gold_codes = np.array([codes.setdefault(g, len(codes)) for g, _ in units], np.int64)
    pred_codes = np.array([-1 if p is None else codes.setdefault(p, len(codes)) for _, p in units], np.int64)
    out.add_units(np.full(len(units), index), gold_codes, pred_codes != gold_codes, pred_codes < 0)
    given = pred_codes >= 0
    _add_confusions(gold_codes[given], pred_codes[given], out)
