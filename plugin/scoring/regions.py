"""Scorers of regions -- text spans, rectangles, polygons, keypoints, brush masks -- against gold.

Regions are matched one-to-one (:func:`plugin.metrics.match_regions`) on an overlap measure:
IoU for rectangles, polygons and masks, OKS-style similarity for keypoints, character F1 for spans.
A matched pair with different labels is a ``label`` discrepancy; with the same label but overlap
below the boundary threshold, a ``boundary`` discrepancy; unmatched gold regions are ``missing``,
unmatched annotated ones ``extra``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray

from plugin.labelconfig import ControlTag
from plugin.metrics.brush import decode_brush_mask
from plugin.metrics.geometry import (
    box_iou_matrix,
    keypoint_similarity_matrix,
    mask_iou_matrix,
    polygon_iou_matrix,
    rectangle_corners,
)
from plugin.metrics.matching import match_regions
from plugin.metrics.spans import exact_span_f1_score, span_f1_score, span_overlap_matrix
from plugin.scoring.classification import make_verdict
from plugin.scoring.results import GEOMETRY_KIND, Region
from plugin.scoring.settings import ScoringSettings
from plugin.scoring.verdict import ClassOutcome, Discrepancy, TagVerdict


def _scale(region: Region) -> tuple[float, float]:
    """Pixels per Label Studio percent along x and y (1.0 when the image size is unknown)."""
    if region.width and region.height:
        return region.width / 100.0, region.height / 100.0
    return 1.0, 1.0


def _boxes(regions: Sequence[Region]) -> tuple[NDArray, NDArray]:
    """``x, y, width, height`` in pixels and clockwise rotation in degrees."""
    rows = [
        (
            r.value["x"] * sx,
            r.value["y"] * sy,
            r.value["width"] * sx,
            r.value["height"] * sy,
            r.value.get("rotation") or 0.0,
        )
        for r in regions
        for sx, sy in [_scale(r)]
    ]
    array = np.array(rows, dtype=float).reshape(-1, 5)
    return array[:, :4], array[:, 4]


def _rectangle_iou(gold: Sequence[Region], pred: Sequence[Region]) -> NDArray:
    (gold_boxes, gold_rot), (pred_boxes, pred_rot) = _boxes(gold), _boxes(pred)
    if not (gold_rot.any() or pred_rot.any()):
        # Label Studio may store a box dragged up or left with a negative width or height.
        for boxes in (gold_boxes, pred_boxes):
            boxes[:, :2] += np.minimum(boxes[:, 2:], 0.0)
            boxes[:, 2:] = np.abs(boxes[:, 2:])
        return box_iou_matrix(gold_boxes, pred_boxes)
    gold_shapes = shapely.polygons(rectangle_corners(gold_boxes, gold_rot))
    pred_shapes = shapely.polygons(rectangle_corners(pred_boxes, pred_rot))
    return polygon_iou_matrix(gold_shapes, pred_shapes)


def _polygon(region: Region) -> shapely.Geometry:
    sx, sy = _scale(region)
    points = [(x * sx, y * sy) for x, y in region.value.get("points", ())]
    return shapely.Polygon(points) if len(points) >= 3 else shapely.Polygon()


def _polygon_iou(gold: Sequence[Region], pred: Sequence[Region]) -> NDArray:
    return polygon_iou_matrix([_polygon(r) for r in gold], [_polygon(r) for r in pred])


def _keypoint_similarity(gold: Sequence[Region], pred: Sequence[Region], sigma_fraction: float) -> NDArray:
    def points(regions: Sequence[Region]) -> NDArray:
        return np.array(
            [(r.value["x"] * _scale(r)[0], r.value["y"] * _scale(r)[1]) for r in regions]
        ).reshape(-1, 2)

    sx, sy = _scale((list(gold) + list(pred))[0])
    sigma = sigma_fraction * 100.0 * float(np.hypot(sx, sy))
    return keypoint_similarity_matrix(points(gold), points(pred), sigma=sigma)


def _mask_iou(gold: Sequence[Region], pred: Sequence[Region]) -> NDArray:
    def masks(regions: Sequence[Region]) -> list[NDArray]:
        return [
            decode_brush_mask(r.value["rle"], width=int(r.width or 0), height=int(r.height or 0))
            for r in regions
        ]

    gold_masks, pred_masks = masks(gold), masks(pred)
    if not gold_masks or not pred_masks:
        return np.zeros((len(gold_masks), len(pred_masks)))
    return mask_iou_matrix(gold_masks, pred_masks)


def region_similarity(
    control: ControlTag, gold: Sequence[Region], pred: Sequence[Region], settings: ScoringSettings
):
    """Overlap matrix (gold × annotated) for the tag's region kind."""
    if not gold or not pred:
        return np.zeros((len(gold), len(pred)))
    kind = GEOMETRY_KIND.get(control.tag, "span")
    if kind == "span":
        return span_overlap_matrix(
            [(r.value["start"], r.value["end"]) for r in gold],
            [(r.value["start"], r.value["end"]) for r in pred],
        )
    if kind == "rectangle":
        return _rectangle_iou(gold, pred)
    if kind == "polygon":
        return _polygon_iou(gold, pred)
    if kind == "keypoint":
        return _keypoint_similarity(gold, pred, settings.keypoint_sigma)
    return _mask_iou(gold, pred)


def compare_regions(
    tag: str,
    gold: Sequence[Region],
    pred: Sequence[Region],
    similarity: NDArray,
    *,
    match: float,
    boundary: float,
) -> tuple[list[Discrepancy], list[ClassOutcome], int]:
    """Match regions and classify every difference; also return the number of label-correct matches."""
    gold_labels = np.array([r.label for r in gold], dtype=object)
    pred_labels = np.array([r.label for r in pred], dtype=object)
    same = gold_labels[:, None] == pred_labels[None, :]
    rows, cols = match_regions(similarity, threshold=match, same_label=same)
    discrepancies: list[Discrepancy] = []
    outcomes: list[ClassOutcome] = []
    correct = 0
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        g, p, overlap = gold[r], pred[c], float(similarity[r, c])
        outcomes.append(ClassOutcome(tag, g.label, p.label))
        if g.label != p.label:
            discrepancies.append(Discrepancy("label", tag, g.label, p.label, g.id, p.id, overlap))
            continue
        correct += 1
        if overlap < boundary:
            discrepancies.append(Discrepancy("boundary", tag, g.label, p.label, g.id, p.id, overlap))
    for r in sorted(set(range(len(gold))) - set(rows.tolist())):
        discrepancies.append(Discrepancy("missing", tag, gold=gold[r].label, gold_id=gold[r].id))
        outcomes.append(ClassOutcome(tag, gold[r].label, None))
    for c in sorted(set(range(len(pred))) - set(cols.tolist())):
        discrepancies.append(Discrepancy("extra", tag, pred=pred[c].label, pred_id=pred[c].id))
        outcomes.append(ClassOutcome(tag, None, pred[c].label))
    return discrepancies, outcomes, correct


def _region_f1(correct: int, n_gold: int, n_pred: int) -> float:
    return 2.0 * correct / (n_gold + n_pred) if n_gold + n_pred else 1.0


def score_regions(
    control: ControlTag, gold: Sequence[Region], pred: Sequence[Region], settings: ScoringSettings
) -> TagVerdict:
    r"""Score a region tag: F1 of label-correct matches at the match threshold.

    .. math::

        \mathrm{score} = \frac{2\,|\text{matched with the right label}|}{n_{gold} + n_{pred}}

    (1.0 when both are empty). Boundary issues are reported but do not lower the score: the
    score answers "were the right objects found with the right class", the ``boundary``
    discrepancies feed relabel review. Text spans use character-level F1 instead (see
    :func:`score_spans`).
    """
    if control.tag == "labels":
        return score_spans(control, gold, pred, settings)
    similarity = region_similarity(control, gold, pred, settings)
    discrepancies, outcomes, correct = compare_regions(
        control.name, gold, pred, similarity, match=settings.match_iou, boundary=settings.boundary_iou
    )
    score = _region_f1(correct, len(gold), len(pred))
    return make_verdict(control, settings, score, discrepancies, outcomes, region_f1=score)


def _spans(regions: Sequence[Region]) -> list[tuple[int, int, str]]:
    return [(int(r.value["start"]), int(r.value["end"]), r.label) for r in regions]


def score_spans(
    control: ControlTag, gold: Sequence[Region], pred: Sequence[Region], settings: ScoringSettings
) -> TagVerdict:
    """Score NER spans: character-level F1 (:func:`plugin.metrics.span_f1_score`) is the score;
    exact-span F1 and matched-region F1 are in ``details``; spans matched at ``span_match_f1``
    with character F1 below ``span_boundary_f1`` are ``boundary`` discrepancies."""
    similarity = region_similarity(control, gold, pred, settings)
    discrepancies, outcomes, correct = compare_regions(
        control.name, gold, pred, similarity, match=settings.span_match_f1, boundary=settings.span_boundary_f1
    )
    score = span_f1_score(_spans(gold), _spans(pred))
    return make_verdict(
        control,
        settings,
        score,
        discrepancies,
        outcomes,
        exact_f1=exact_span_f1_score(_spans(gold), _spans(pred)),
        region_f1=_region_f1(correct, len(gold), len(pred)),
    )
