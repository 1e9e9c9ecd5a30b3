"""Batch path for bounding boxes: score many frames against gold at once, from arrays.

IoU is computed for all frames together by broadcasting over padded ``(frames, boxes, 4)``
arrays, and matching reads the unique candidate pairs off directly; only ambiguous frames (a box
overlapping two others above the match threshold) and frames with rotated boxes are solved one by one.
Per-frame results equal :func:`plugin.scoring.score_task` on the same boxes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from plugin.metrics.geometry import batched_box_iou, polygon_iou_matrix, rectangle_corners
from plugin.metrics.matching import batched_match_regions
from plugin.scoring.settings import ScoringSettings

_CHUNK_FRAMES = 8192
_XYWH = itemgetter("x", "y", "width", "height")
_XYWHR = itemgetter("x", "y", "width", "height", "rotation")
_RESULT = itemgetter("from_name", "original_width", "original_height", "value")


@dataclass(frozen=True)
class BoxSet:
    """Boxes of many frames, flat: row ``i`` is a box of frame ``frame[i]`` (frames ascending).

    ``boxes`` are ``x, y, width, height`` in pixels with non-negative size, ``rotation`` clockwise
    degrees about the top-left corner, ``labels`` integer class codes.
    """

    frame: NDArray
    boxes: NDArray
    labels: NDArray
    rotation: NDArray

    @classmethod
    def from_arrays(
        cls, frame: ArrayLike, boxes: ArrayLike, labels: ArrayLike, rotation: ArrayLike | None = None
    ) -> BoxSet:
        frame = np.asarray(frame, dtype=np.int64)
        order = np.argsort(frame, kind="stable")
        rot = np.zeros(len(frame)) if rotation is None else np.asarray(rotation, dtype=float)
        return cls(
            frame[order],
            np.asarray(boxes, float).reshape(-1, 4)[order],
            np.asarray(labels)[order],
            rot[order],
        )


@dataclass(frozen=True)
class FrameVerdicts:
    """Per-frame box verdicts; every array has one entry per frame.

    ``score`` is the F1 of label-correct matches (as :func:`plugin.scoring.regions.score_regions`),
    ``correct`` counts them; ``label``, ``boundary``, ``missing``, ``extra`` count discrepancies.
    ``match[f, i]`` is the index (into the annotated :class:`BoxSet`) matched to gold box ``i`` of
    frame ``f``, or -1. ``n_ambiguous`` frames went through ``linear_sum_assignment`` and
    ``n_rotated`` frames had their IoU computed with shapely, one frame at a time.
    """

    score: NDArray
    passed: NDArray
    correct: NDArray
    label: NDArray
    boundary: NDArray
    missing: NDArray
    extra: NDArray
    match: NDArray
    n_ambiguous: int
    n_rotated: int


def _padded(boxes: BoxSet, n_frames: int) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """``(f, n, 4)`` boxes (NaN padding), ``(f, n)`` labels (-1 padding), counts and row starts."""
    counts = np.bincount(boxes.frame, minlength=n_frames)
    starts = np.cumsum(counts) - counts
    slot = np.arange(len(boxes.frame)) - starts[boxes.frame]
    width = max(int(counts.max(initial=0)), 1)
    padded = np.full((n_frames, width, 4), np.nan)
    padded[boxes.frame, slot] = boxes.boxes
    labels = np.full((n_frames, width), -1, dtype=np.int64)
    labels[boxes.frame, slot] = boxes.labels
    return padded, labels, counts, starts


def _rotated_iou(gold: BoxSet, pred: BoxSet, frame: int, shape: tuple[int, int]) -> NDArray:
    g = gold.frame == frame
    p = pred.frame == frame
    iou = np.zeros(shape)
    gold_shapes = shapely.polygons(rectangle_corners(gold.boxes[g], gold.rotation[g]))
    pred_shapes = shapely.polygons(rectangle_corners(pred.boxes[p], pred.rotation[p]))
    iou[: g.sum(), : p.sum()] = polygon_iou_matrix(gold_shapes, pred_shapes)
    return iou


def score_box_batch(
    pred: BoxSet, gold: BoxSet, *, n_frames: int, settings: ScoringSettings | None = None
) -> FrameVerdicts:
    """Match annotated boxes to gold boxes frame by frame, all frames at once.

    Parameters
    ----------
    pred, gold : BoxSet
        Annotated and gold boxes; frame indices in ``0..n_frames-1``, the same label coding.
    n_frames : int
        Number of frames (frames without any box count as empty).
    settings : ScoringSettings, optional
        ``match_iou``, ``boundary_iou`` and ``pass_threshold`` are used.

    Returns
    -------
    FrameVerdicts
    """
    settings = settings or ScoringSettings()
    gold_pad, gold_labels, n_gold, _ = _padded(gold, n_frames)
    pred_pad, pred_labels, n_pred, pred_starts = _padded(pred, n_frames)
    iou = np.zeros((n_frames, gold_pad.shape[1], pred_pad.shape[1]))
    for start in range(0, n_frames, _CHUNK_FRAMES):
        chunk = slice(start, start + _CHUNK_FRAMES)
        iou[chunk] = batched_box_iou(gold_pad[chunk], pred_pad[chunk])
    rotated = np.unique(np.concatenate([gold.frame[gold.rotation != 0], pred.frame[pred.rotation != 0]]))
    for f in rotated:
        iou[f] = _rotated_iou(gold, pred, int(f), iou.shape[1:])
    same = gold_labels[:, :, None] == pred_labels[:, None, :]
    match, n_ambiguous = batched_match_regions(iou, threshold=settings.match_iou, same_label=same)
    matched = match >= 0
    frames, rows = np.nonzero(matched)
    cols = match[frames, rows]
    pair_iou = iou[frames, rows, cols]
    pair_same = same[frames, rows, cols]

    def count(mask: NDArray) -> NDArray:
        return np.bincount(frames[mask], minlength=n_frames)

    correct = count(pair_same)
    n_matched = matched.sum(axis=1)
    total = n_gold + n_pred
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, 2.0 * correct / total, 1.0)
    return FrameVerdicts(
        score=score,
        passed=score >= settings.pass_threshold,
        correct=correct,
        label=count(~pair_same),
        boundary=count(pair_same & (pair_iou < settings.boundary_iou)),
        missing=n_gold - n_matched,
        extra=n_pred - n_matched,
        match=np.where(matched, pred_starts[:, None] + match, -1),
        n_ambiguous=n_ambiguous,
        n_rotated=len(rotated),
    )


def box_set_from_results(
    frames: Sequence[Iterable[Mapping[str, Any]]], *, tag: str, label_codes: dict[str, int]
) -> BoxSet:
    """Read the ``tag`` rectangles of many frames' Label Studio results into a :class:`BoxSet`.

    Expects ``rectanglelabels`` results (geometry and labels in one result, as Label Studio exports
    ``RectangleLabels``). Percentages become pixels with ``original_width``/``original_height``
    (kept as percent when absent); a negative width or height (a box drawn up or left) is flipped.

    Parameters
    ----------
    frames : sequence of result lists
        One Label Studio ``result`` list per frame.
    tag : str
        ``from_name`` of the rectangle control.
    label_codes : dict
        Class name to integer code; unseen classes are added, so pass the same dict for gold and
        annotations. Several labels on one box are joined with ``+`` in sorted order.
    """
    # One pass over the results reads each field once, through C-level getters, into flat lists
    # that then become arrays with one conversion each: about 1 µs per box in CPython, where a
    # pass per field took 3-4 µs (every pass goes back to dicts long evicted from the caches).
    # ``try`` costs nothing in CPython 3.11 until it raises, so any result the common shape does
    # not fit (a missing key, several or no labels, a class without a code yet, another tag's
    # result) is read again by the general code below, which gives the documented values.
    coords: list[Any] = []  # x, y, width, height, rotation of each box
    sizes: list[Any] = []  # original_width, original_height of each box
    codes: list[int] = []
    ends: list[int] = []  # number of boxes read after each frame
    add_coords, add_size, add_code, end_frame = coords.extend, sizes.extend, codes.append, ends.append
    for results in frames:
        for r in results:
            try:
                from_name, width, height, v = _RESULT(r)
                xywhr = _XYWHR(v)
                (name,) = v["rectanglelabels"]
                code = label_codes[name]
            except (KeyError, TypeError, ValueError):
                if r.get("from_name") == tag:
                    v = r["value"]
                    add_size((r.get("original_width"), r.get("original_height")))
                    add_coords((*_XYWH(v), v.get("rotation")))
                    name = _class_name(v.get("rectanglelabels") or v.get("labels") or ())
                    add_code(label_codes.setdefault(name, len(label_codes)))
                continue
            if from_name == tag:
                add_size((width, height))
                add_coords(xywhr)
                add_code(code)
        end_frame(len(codes))
    n = len(codes)
    rotation = _or_default(coords[4::5], 0.0)
    del coords[4::5]
    boxes = np.fromiter(coords, float, 4 * n).reshape(n, 4)
    boxes *= np.tile(_or_default(sizes, 100.0).reshape(n, 2), 2) / 100.0
    flat = rotation == 0
    if flat.all():  # the same as below, without the masked copies
        boxes[:, :2] += np.minimum(boxes[:, 2:], 0.0)
        boxes[:, 2:] = np.abs(boxes[:, 2:])
    else:
        boxes[flat, :2] += np.minimum(boxes[flat, 2:], 0.0)
        boxes[flat, 2:] = np.abs(boxes[flat, 2:])
    frame = np.repeat(np.arange(len(ends)), np.diff(np.array(ends, dtype=np.int64), prepend=0))
    return BoxSet(frame, boxes, np.fromiter(codes, np.int64, n), rotation)


def _or_default(items: list[Any], default: float) -> NDArray:
    """``np.fromiter((x or default for x in items), float)``, skipping the generator when it can."""
    if all(items):
        return np.fromiter(items, float, len(items))
    if not any(items):
        return np.full(len(items), default)
    return np.fromiter((x or default for x in items), float, len(items))


def _class_name(labels: Sequence[str]) -> str:
    return labels[0] if len(labels) == 1 else "+".join(sorted(labels))


def score_box_frames(
    results: Sequence[Iterable[Mapping[str, Any]]],
    gold_results: Sequence[Iterable[Mapping[str, Any]]],
    *,
    tag: str,
    settings: ScoringSettings | None = None,
) -> FrameVerdicts:
    """Score the ``tag`` boxes of many frames (Label Studio result lists) against gold, in one batch.

    ``results[i]`` and ``gold_results[i]`` are the annotation and gold of frame ``i``; see
    :func:`score_box_batch` for the verdicts and :func:`box_set_from_results` for the input.
    """
    if len(results) != len(gold_results):
        raise ValueError(f"{len(results)} annotated frames but {len(gold_results)} gold frames")
    codes: dict[str, int] = {}
    pred = box_set_from_results(results, tag=tag, label_codes=codes)
    gold = box_set_from_results(gold_results, tag=tag, label_codes=codes)
    return score_box_batch(
        pred, gold, n_frames=len(results), settings=(settings or ScoringSettings()).for_tag(tag)
    )
