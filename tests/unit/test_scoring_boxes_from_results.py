"""Reading boxes from Label Studio results: the fast path and the general path give the same BoxSet."""

import random

import numpy as np
import pytest

from plugin.scoring.boxes import box_set_from_results


def _reference(frames, tag, label_codes):
    """The documented semantics, box by box."""
    frame, boxes, labels, rotation = [], [], [], []
    for f, results in enumerate(frames):
        for r in results:
            if r.get("from_name") != tag:
                continue
            v = r["value"]
            sw = float(r.get("original_width") or 100.0) / 100.0
            sh = float(r.get("original_height") or 100.0) / 100.0
            x, y, w, h = (
                float(v["x"]) * sw,
                float(v["y"]) * sh,
                float(v["width"]) * sw,
                float(v["height"]) * sh,
            )
            rot = float(v.get("rotation") or 0.0)
            box = [x + min(w, 0.0), y + min(h, 0.0), abs(w), abs(h)] if rot == 0 else [x, y, w, h]
            names = v.get("rectanglelabels") or v.get("labels") or ()
            name = names[0] if len(names) == 1 else "+".join(sorted(names))
            frame.append(f)
            boxes.append(box)
            labels.append(label_codes.setdefault(name, len(label_codes)))
            rotation.append(rot)
    return frame, boxes, labels, rotation


def _result(rng):
    r = {"from_name": rng.choice(["box", "box", "box", "other"]), "type": "rectanglelabels"}
    for key in ("original_width", "original_height"):
        size = rng.choice([640, 1920, 480.5, None, 0, "absent"])
        if size != "absent":
            r[key] = size
    v = {
        key: rng.choice([rng.uniform(-20, 90), rng.randint(-5, 50), 0])
        for key in ("x", "y", "width", "height")
    }
    rotation = rng.choice([0, 0, 0.0, -0.0, None, rng.uniform(-30, 30), "absent"])
    if rotation != "absent":
        v["rotation"] = rotation
    labels = rng.choice([["a"], ["b"], ["c"], ["a", "c"], ["c", "a"], [], None, ("b",), "absent"])
    if labels != "absent":
        v["rectanglelabels"] = labels
    if rng.random() < 0.3:
        v["labels"] = rng.choice([["b"], ["a", "b"], []])
    r["value"] = v
    return r


@pytest.mark.parametrize("seed", range(5))
def test_box_set_from_results_matches_box_by_box_reading(seed):
    rng = random.Random(seed)
    frames = [[_result(rng) for _ in range(rng.randint(0, 6))] for _ in range(200)]
    codes, expected_codes = {"z": 0}, {"z": 0}
    frame, boxes, labels, rotation = _reference(frames, "box", expected_codes)
    # plain iterables as frames, too (each read once)
    got = box_set_from_results(
        [iter(f) for f in frames] if seed % 2 else frames, tag="box", label_codes=codes
    )
    assert got.frame.tolist() == frame
    assert got.boxes.tolist() == boxes
    assert got.labels.tolist() == labels
    assert got.rotation.tolist() == rotation
    assert list(codes.items()) == list(expected_codes.items())


def test_box_set_from_results_common_case_and_empty_frames():
    def box(x, y, w, h, label):
        return {
            "from_name": "box", "original_width": 200, "original_height": 100,
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]},
        }  # fmt: skip

    codes = {}
    got = box_set_from_results(
        [[], [box(10, 20, 30, 40, "a"), box(50, 50, -10, -20, "b")], [], [box(0, 0, 5, 5, "a")]],
        tag="box",
        label_codes=codes,
    )
    assert got.frame.tolist() == [1, 1, 3]
    assert got.boxes.tolist() == [[20.0, 20.0, 60.0, 40.0], [80.0, 30.0, 20.0, 20.0], [0.0, 0.0, 10.0, 5.0]]
    assert got.labels.tolist() == [0, 1, 0] and codes == {"a": 0, "b": 1}
    assert got.rotation.tolist() == [0.0, 0.0, 0.0]
    empty = box_set_from_results([[], []], tag="box", label_codes={})
    assert empty.boxes.shape == (0, 4) and empty.frame.shape == (0,) and empty.labels.dtype == np.int64
