"""The batch box path gives the same per-frame verdicts as scoring each task on its own."""

import numpy as np
import pytest

from plugin.labelconfig import parse_label_config
from plugin.scoring import ScoringSettings, score_task
from plugin.scoring.boxes import BoxSet, score_box_batch, score_box_frames

CONFIG = parse_label_config(
    '<View><Image name="img" value="$image"/>'
    '<RectangleLabels name="box" toName="img">'
    '<Label value="a"/><Label value="b"/><Label value="c"/>'
    "</RectangleLabels>"
    "</View>"
)


def _result(x, y, w, h, label, rotation=0.0, rid="r"):
    return {
        "from_name": "box", "to_name": "img", "type": "rectanglelabels", "id": rid,
        "original_width": 640, "original_height": 480,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]},
    }  # fmt: skip


def _frames(seed, n_frames=300):
    rng = np.random.default_rng(seed)
    gold_frames, pred_frames = [], []
    for f in range(n_frames):
        n = rng.integers(0, 6)
        gold = [
            (rng.uniform(0, 70), rng.uniform(0, 70), rng.uniform(5, 25), rng.uniform(5, 25)) for _ in range(n)
        ]
        labels = rng.choice(["a", "b", "c"], n)
        gold_frames.append(
            [_result(*g, lb, rid=f"g{i}") for i, (g, lb) in enumerate(zip(gold, labels, strict=True))]
        )
        pred = []
        for i, (g, lb) in enumerate(zip(gold, labels, strict=True)):
            if rng.random() < 0.1:
                continue  # missed
            x, y, w, h = np.array(g) + rng.normal(0, 1.5, 4)
            label = rng.choice(["a", "b", "c"]) if rng.random() < 0.15 else lb
            rotation = 10.0 if f % 50 == 0 and i == 0 else 0.0
            pred.append(_result(x, y, w, h, label, rotation, rid=f"p{i}"))
            if rng.random() < 0.1:  # a near-duplicate: the frame becomes ambiguous
                pred.append(_result(x + 0.5, y, w, h, label, rid=f"d{i}"))
        if rng.random() < 0.2:
            pred.append(_result(80, 80, 10, -10, "a", rid="x"))  # extra, drawn upwards
        pred_frames.append(pred)
    return pred_frames, gold_frames


@pytest.mark.parametrize("seed", range(3))
def test_batch_box_verdicts_equal_score_task_per_frame(seed):
    pred_frames, gold_frames = _frames(seed)
    settings = ScoringSettings()
    batch = score_box_frames(pred_frames, gold_frames, tag="box", settings=settings)
    assert batch.n_ambiguous > 0 and batch.n_rotated > 0
    for f, (pred, gold) in enumerate(zip(pred_frames, gold_frames, strict=True)):
        verdict = score_task(pred, gold, CONFIG, settings)
        tag = verdict.tags.get("box")
        kinds = [d.kind for d in tag.discrepancies] if tag else []
        assert batch.score[f] == pytest.approx(tag.score if tag else 1.0, abs=1e-12)
        counts = [batch.label[f], batch.boundary[f], batch.missing[f], batch.extra[f]]
        assert counts == [kinds.count(k) for k in ("label", "boundary", "missing", "extra")]
        assert batch.passed[f] == (batch.score[f] >= settings.pass_threshold)


def test_score_box_batch_from_arrays_and_empty_frames():
    gold = BoxSet.from_arrays([1, 0], [[0, 0, 10, 10], [0, 0, 10, 10]], [0, 0])
    pred = BoxSet.from_arrays([0], [[1, 0, 10, 10]], [0])
    verdicts = score_box_batch(pred, gold, n_frames=3)
    assert verdicts.score.tolist() == [1.0, 0.0, 1.0]
    assert verdicts.boundary.tolist() == [1, 0, 0]  # IoU 90/110 and verdicts.missing.tolist() == [0, 1, 0]
    assert verdicts.match[0, 0] == 0 and verdicts.match[1, 0] == -1
    empty = score_box_batch(
        BoxSet.from_arrays([], np.empty((0, 4)), []), BoxSet.from_arrays([], np.empty((0, 4)), []), n_frames=2
    )
    assert empty.score.tolist() == [1.0, 1.0]


def test_score_box_frames_checks_lengths():
    with pytest.raises(ValueError):
        score_box_frames([[]], [], tag="box")
