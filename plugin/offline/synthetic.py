"""Synthetic Label Studio box exports with a known error profile, for tests, benchmarks and demos.

:func:`write_box_exports` writes an export (one annotation per task) and a gold export (a share of
the same tasks, answered by an expert) as Label Studio JSON, streamed in chunks, and returns the
truth it planted: which gold boxes it corrupted, by class and annotator, and the IoU of every box
the annotator drew for a gold box. The default :func:`reference_profile` follows the reference case
of DOMAIN.md (warehouse shelves: 14 classes, two ambiguous ones, three annotators behind most
errors, boxes drawn too tight).

Gold boxes sit one per cell of a 5 x 2 grid, so different boxes never overlap and matching is
unambiguous; a drawn box is its gold box shrunk about its centre, which gives exactly the planted
IoU (``scale ** 2``) up to the rounding of coordinates in the JSON (the truth uses the rounded values).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

REFERENCE_CLASSES = (
    "damaged goods",
    "empty shelf slot",
    "product",
    "price tag",
    "shelf label",
    "promo sign",
    "pallet",
    "box",
    "bottle",
    "can",
    "bag",
    "jar",
    "carton",
    "misplaced item",
)
_GRID = (5, 2)  # cells across, down
_WIDTH, _HEIGHT = 1920, 1080
_DIGITS = 4


@dataclass(frozen=True)
class BoxProfile:
    """How a synthetic team labels boxes.

    ``class_weights`` is each class's share of gold boxes; ``error_good``/``error_bad`` the chance
    that a good / bad annotator gets a gold box of each class wrong (``missing_share`` of those
    errors leave the box out, the rest give it another class). ``bad_work_share`` of the tasks go to
    the last ``bad_annotators`` of ``annotators``. Of the boxes drawn for a gold box, ``band_share``
    get an IoU in [0.70, 0.85) and ``loose_share`` one in [0.55, 0.70); the rest [0.87, 1.0].
    ``extra_rate`` is the chance of a box with no gold counterpart per task.
    """

    classes: tuple[str, ...] = REFERENCE_CLASSES
    class_weights: tuple[float, ...] = field(default_factory=lambda: (0.12, 0.12) + (0.76 / 12,) * 12)
    annotators: int = 22
    bad_annotators: int = 3
    bad_work_share: float = 0.25
    error_good: tuple[float, ...] = field(default_factory=lambda: (0.149, 0.103) + (0.045,) * 12)
    error_bad: tuple[float, ...] = field(default_factory=lambda: (0.80, 0.60) + (0.177,) * 12)
    missing_share: float = 0.2
    band_share: float = 0.081
    loose_share: float = 0.015
    extra_rate: float = 0.01


def reference_profile() -> BoxProfile:
    """DOMAIN.md's reference case: about 12.4 % errors, "damaged goods" 31.2 %, "empty shelf slot"
    22.7 %, three annotators causing 61 % of errors, 8.1 % of boxes with IoU 0.70-0.85."""
    return BoxProfile()


@dataclass
class PlantedTruth:
    """What the generator planted among the gold tasks (the ones an audit can see)."""

    classes: tuple[str, ...]
    annotator_ids: tuple[int, ...]
    gold_boxes: NDArray  # per class
    errors: NDArray  # per class x annotator
    units: NDArray  # per class x annotator
    matched_iou: list[NDArray]
    records: int = 0
    records_with_errors: int = 0

    @property
    def error_rate(self) -> float:
        return float(self.errors.sum() / self.units.sum())

    def class_error_rate(self, name: str) -> float:
        i = self.classes.index(name)
        return float(self.errors[i].sum() / self.units[i].sum())

    def error_share(self, annotator_ids: list[int]) -> float:
        cols = [self.annotator_ids.index(a) for a in annotator_ids]
        return float(self.errors[:, cols].sum() / self.errors.sum())

    def share_iou_070_085(self) -> float:
        iou = np.concatenate(self.matched_iou) if self.matched_iou else np.empty(0)
        return float(((iou >= 0.70) & (iou < 0.85)).mean()) if len(iou) else 0.0


def label_config_xml(profile: BoxProfile) -> str:
    """The label config of the synthetic project."""
    labels = "".join(f'<Label value="{c}"/>' for c in profile.classes)
    return (
        '<View><Image name="image" value="$image"/>'
        f'<RectangleLabels name="label" toName="image">{labels}</RectangleLabels></View>'
    )


def write_box_exports(
    export: IO[str],
    gold: IO[str] | None,
    *,
    n_tasks: int,
    boxes_per_task: int = 10,
    gold_share: float = 0.04,
    profile: BoxProfile | None = None,
    seed: int = 0,
    gold_id_offset: int = 0,
    chunk: int = 2000,
) -> PlantedTruth:
    """Write a Label Studio JSON export and its gold export; return the planted truth.

    Parameters
    ----------
    export, gold : text streams
        Where the export and the gold export go (``gold=None``: only the export).
    n_tasks, boxes_per_task : int
        Tasks in the export and gold boxes per task (at most 10).
    gold_share : float
        Share of tasks that also appear, with the expert's boxes, in the gold export.
    gold_id_offset : int
        Added to task ids in the gold export (to test matching on a data key instead of the id).
    """
    profile = profile or reference_profile()
    if not 0 < boxes_per_task <= _GRID[0] * _GRID[1]:
        raise ValueError(f"boxes_per_task must be in 1..{_GRID[0] * _GRID[1]}")
    rng = np.random.default_rng(seed)
    n_classes = len(profile.classes)
    annotator_ids = tuple(range(1, profile.annotators + 1))
    truth = PlantedTruth(
        profile.classes,
        annotator_ids,
        np.zeros(n_classes, np.int64),
        np.zeros((n_classes, profile.annotators), np.int64),
        np.zeros((n_classes, profile.annotators), np.int64),
        [],
    )
    export.write("[")
    if gold is not None:
        gold.write("[")
    first_gold = True
    for start in range(0, n_tasks, chunk):
        tasks = _plan_chunk(rng, profile, start, min(chunk, n_tasks - start), boxes_per_task, gold_share)
        export.write(",\n".join(_task_json(t, profile.classes) for t in tasks))
        if start + chunk < n_tasks:
            export.write(",\n")
        for t in tasks:
            if not t.is_gold:
                continue
            _tally(truth, t)
            if gold is not None:
                gold.write(("" if first_gold else ",\n") + _gold_json(t, profile.classes, gold_id_offset))
                first_gold = False
    export.write("]\n")
    if gold is not None:
        gold.write("]\n")
    return truth


@dataclass
class _Task:
    id: int
    annotator: int
    is_gold: bool
    gold_boxes: NDArray  # (k, 4) percent, rounded
    gold_labels: NDArray
    drawn: NDArray  # bool per gold box
    pred_boxes: NDArray  # (k, 4), rounded (only rows with drawn)
    pred_labels: NDArray
    extra: NDArray | None  # (4,) box with no gold counterpart

    def annotator_result(self) -> Iterator[tuple[NDArray, int]]:
        for i in np.flatnonzero(self.drawn):
            yield self.pred_boxes[i], int(self.pred_labels[i])
        if self.extra is not None:
            yield self.extra, 0

    def gold_result(self) -> Iterator[tuple[NDArray, int]]:
        for box, label in zip(self.gold_boxes, self.gold_labels, strict=True):
            yield box, int(label)


def _plan_chunk(
    rng: np.random.Generator, p: BoxProfile, start: int, n: int, k: int, gold_share: float
) -> list[_Task]:
    n_classes = len(p.classes)
    weights = np.asarray(p.class_weights, float)
    labels = rng.choice(n_classes, size=(n, k), p=weights / weights.sum())
    bad = rng.random(n) < p.bad_work_share
    good_ids = np.arange(1, p.annotators - p.bad_annotators + 1)
    bad_ids = np.arange(p.annotators - p.bad_annotators + 1, p.annotators + 1)
    annotator = np.where(bad, rng.choice(bad_ids, n), rng.choice(good_ids, n))
    error_p = np.where(bad[:, None], np.asarray(p.error_bad)[labels], np.asarray(p.error_good)[labels])
    wrong = rng.random((n, k)) < error_p
    missing = wrong & (rng.random((n, k)) < p.missing_share)
    relabel = (labels + rng.integers(1, n_classes, size=(n, k))) % n_classes
    pred_labels = np.where(wrong & ~missing, relabel, labels)
    gold_boxes = _grid_boxes(rng, n, k)
    iou = _planted_iou(rng, p, (n, k))
    scale = np.sqrt(iou)[..., None]
    centre = gold_boxes[..., :2] + gold_boxes[..., 2:] / 2
    size = gold_boxes[..., 2:] * scale
    pred_boxes = np.round(np.concatenate([centre - size / 2, size], axis=-1), _DIGITS)
    is_gold = rng.random(n) < gold_share
    extra = rng.random(n) < p.extra_rate
    return [
        _Task(
            id=start + i + 1,
            annotator=int(annotator[i]),
            is_gold=bool(is_gold[i]),
            gold_boxes=gold_boxes[i],
            gold_labels=labels[i],
            drawn=~missing[i],
            pred_boxes=pred_boxes[i],
            pred_labels=pred_labels[i],
            extra=np.array([40.0, 45.0, 3.0, 3.0]) if extra[i] else None,
        )
        for i in range(n)
    ]


def _grid_boxes(rng: np.random.Generator, n: int, k: int) -> NDArray:
    """``(n, k, 4)`` boxes in percent, each inside its own cell of the grid."""
    across, down = _GRID
    cell_w, cell_h = 100.0 / across, 100.0 / down
    cells = np.arange(k)
    w = rng.uniform(0.4, 0.9, (n, k)) * cell_w
    h = rng.uniform(0.4, 0.9, (n, k)) * cell_h
    x = (cells % across) * cell_w + rng.uniform(0, 1, (n, k)) * (cell_w - w)
    y = (cells // across) * cell_h + rng.uniform(0, 1, (n, k)) * (cell_h - h)
    return np.round(np.stack([x, y, w, h], axis=-1), _DIGITS)


def _planted_iou(rng: np.random.Generator, p: BoxProfile, shape: tuple[int, int]) -> NDArray:
    u = rng.random(shape)
    band = u < p.band_share
    loose = (u >= p.band_share) & (u < p.band_share + p.loose_share)
    return np.where(
        band,
        rng.uniform(0.70, 0.85, shape),
        np.where(loose, rng.uniform(0.55, 0.70, shape), rng.uniform(0.87, 1.0, shape)),
    )


def _iou(a: NDArray, b: NDArray) -> NDArray:
    inter_w = np.clip(
        np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None
    )
    inter_h = np.clip(
        np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None
    )
    inter = inter_w * inter_h
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def _tally(truth: PlantedTruth, t: _Task) -> None:
    a = truth.annotator_ids.index(t.annotator)
    errors = ~t.drawn | (t.pred_labels != t.gold_labels)
    np.add.at(truth.gold_boxes, t.gold_labels, 1)
    np.add.at(truth.units[:, a], t.gold_labels, 1)
    np.add.at(truth.errors[:, a], t.gold_labels, errors.astype(np.int64))
    truth.matched_iou.append(_iou(t.gold_boxes[t.drawn], t.pred_boxes[t.drawn]))
    truth.records += 1
    truth.records_with_errors += int(errors.any())


def _result_json(rows: Iterator[tuple[NDArray, int]], classes: tuple[str, ...], prefix: str) -> str:
    parts = []
    for n, (box, label) in enumerate(rows):
        x, y, w, h = (float(v) for v in box)
        parts.append(
            f'{{"id":"{prefix}{n}","type":"rectanglelabels","from_name":"label","to_name":"image",'
            f'"original_width":{_WIDTH},"original_height":{_HEIGHT},"image_rotation":0,'
            f'"value":{{"x":{x},"y":{y},"width":{w},"height":{h},"rotation":0,'
            f'"rectanglelabels":[{json.dumps(classes[label])}]}},"origin":"manual"}}'
        )
    return "[" + ",".join(parts) + "]"


def _task_json(t: _Task, classes: tuple[str, ...]) -> str:
    result = _result_json(t.annotator_result(), classes, f"t{t.id}r")
    return _envelope(t.id, t.id, result, t.annotator, False, 1)


def _gold_json(t: _Task, classes: tuple[str, ...], id_offset: int) -> str:
    result = _result_json(t.gold_result(), classes, f"g{t.id}r")
    return _envelope(t.id + id_offset, t.id, result, 100, True, 2 if id_offset else 1)


def _envelope(task_id: int, frame: int, result: str, annotator: int, ground_truth: bool, project: int) -> str:
    stamp = "2026-03-01T10:00:00.000000Z"
    annotation = (
        f'{{"id":{task_id * 10 + project},"completed_by":{annotator},"result":{result},'
        f'"was_cancelled":false,"ground_truth":{"true" if ground_truth else "false"},'
        f'"created_at":"{stamp}","updated_at":"{stamp}","lead_time":12.5,"task":{task_id},'
        f'"project":{project}}}'
    )
    return (
        f'{{"id":{task_id},"annotations":[{annotation}],"file_upload":"frames.json","drafts":[],'
        f'"predictions":[],"data":{{"image":"s3://shelves/frame_{frame:07d}.jpg",'
        f'"site":"site-{frame % 6 + 1}"}},'
        f'"meta":{{}},"created_at":"{stamp}","updated_at":"{stamp}","inner_id":{task_id},'
        f'"total_annotations":1,"cancelled_annotations":0,"total_predictions":0,"project":{project}}}'
    )


def write_box_export_files(export_path: Path, gold_path: Path, **kwargs: object) -> PlantedTruth:
    """:func:`write_box_exports` into two files."""
    with export_path.open("w") as export, gold_path.open("w") as gold:
        return write_box_exports(export, gold, **kwargs)  # type: ignore[arg-type]
