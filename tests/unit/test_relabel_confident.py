"""Confident learning on Label Studio-shaped predictions that carry only a top score."""

import numpy as np
import pytest
from relabelsim import noisy_labels

from plugin.relabel.confident import find_label_suspects, prediction_probabilities
from plugin.relabel.jobs import _latest_scored, confident_learning_candidates

CLASSES = ["cat", "dog", "bird", "fish", "frog"]


def choice(value):
    return [{"from_name": "animal", "to_name": "img", "type": "choices", "value": {"choices": [value]}}]


def synthetic_project(seed, n=2000, flip=0.08, model_accuracy=0.9):
    """n tasks, one annotation each, as ``relabelsim.noisy_labels`` makes them."""
    given, predicted, score, flipped = noisy_labels(
        np.random.default_rng(seed), n, len(CLASSES), flip, model_accuracy
    )
    rows = [
        {"id": 10_000 + t, "task_id": t, "annotator_id": 1 + t % 7, "result": choice(CLASSES[given[t]])}
        for t in range(n)
    ]
    predictions = {
        t: {"task": t, "score": float(score[t]), "result": choice(CLASSES[predicted[t]])} for t in range(n)
    }
    return rows, predictions, {10_000 + t for t in np.flatnonzero(flipped)}


@pytest.mark.parametrize("seed", [1, 2])
def test_confident_learning_finds_most_flipped_labels(seed):
    rows, predictions, flipped = synthetic_project(seed)
    found = confident_learning_candidates(rows, predictions, "animal", CLASSES)
    flagged = {c.annotation_id for c in found}
    assert len(flagged) == len(found)  # one candidate per annotation
    hits = len(flagged & flipped)
    precision, recall = hits / len(flagged), hits / len(flipped)
    print(
        f"seed {seed}: {len(flipped)} flipped, {len(flagged)} flagged, "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    assert recall >= 0.7 and precision >= 0.7
    assert all(c.reason_kind == "confident_learning" and "model" in c.reason for c in found)


def test_prediction_probabilities_spread_the_rest_uniformly():
    p = prediction_probabilities({"score": 0.6, "result": choice("dog")}, "animal", CLASSES)
    assert p is not None
    assert p.sum() == pytest.approx(1.0) and p[1] == pytest.approx(0.6)
    assert np.allclose(np.delete(p, 1), 0.1)
    assert prediction_probabilities({"score": None, "result": choice("dog")}, "animal", CLASSES) is None
    assert prediction_probabilities({"score": 0.9, "result": choice("whale")}, "animal", CLASSES) is None


def test_find_label_suspects_with_one_class_used_flags_nothing():
    assert find_label_suspects([0, 0, 0], np.tile([0.1, 0.9], (3, 1))) == []
    assert find_label_suspects([], np.empty((0, 2))) == []


def test_scan_reads_the_projects_model_version_when_predictions_carry_it():
    def prediction(pid, task, version):
        return {"id": pid, "task": task, "model_version": version, "score": 0.9, "result": choice("dog")}

    mixed = [prediction(1, 7, "v3"), prediction(2, 7, "v2"), prediction(3, 8, "v2")]
    assert {t: p["id"] for t, p in _latest_scored(mixed, "v3").items()} == {7: 1}
    assert {t: p["id"] for t, p in _latest_scored(mixed, "v9").items()} == {7: 2, 8: 3}  # none of it: all
    assert {t: p["id"] for t, p in _latest_scored(mixed, None).items()} == {7: 2, 8: 3}
