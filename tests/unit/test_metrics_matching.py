"""One-to-one region matching, and the batched shortcut against scipy's assignment frame by frame."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from plugin.metrics import batched_box_iou, batched_match_regions, match_regions


def _brute_force_best(weight, candidate):
    """Largest total weight over all one-to-one matchings of candidate pairs (tiny inputs only)."""
    n, m = weight.shape
    best = 0.0
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                if all(candidate[r, c] for r, c in zip(rows, cols, strict=True)):
                    best = max(best, sum(weight[r, c] for r, c in zip(rows, cols, strict=True)))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_match_regions_is_optimal_and_prefers_agreeing_labels(seed):
    rng = np.random.default_rng(seed)
    sim = rng.random((4, 3)) * (rng.random((4, 3)) < 0.6)
    same = rng.random((4, 3)) < 0.5
    rows, cols = match_regions(sim, threshold=0.3, same_label=same)
    candidate = sim >= 0.3
    assert candidate[rows, cols].all()
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    weight = sim + same * 4.0
    assert weight[rows, cols].sum() == pytest.approx(_brute_force_best(weight, candidate))


def test_match_regions_edge_cases():
    rows, cols = match_regions(np.zeros((0, 3)), threshold=0.5)
    assert rows.size == cols.size == 0
    rows, cols = match_regions([[0.4]], threshold=0.5)
    assert rows.size == 0
    with pytest.raises(ValueError):
        match_regions([[1.0]], threshold=0.0)


def _scipy_match(sim, same, threshold):
    """The reference: scipy on the same weights, frame by frame."""
    candidate = sim >= threshold
    match = np.full(sim.shape[0], -1)
    if candidate.any():
        weight = np.where(candidate, sim + same * (min(sim.shape) + 1.0), 0.0)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        keep = candidate[rows, cols]
        match[rows[keep]] = cols[keep]
    return match


@pytest.mark.parametrize("seed", range(5))
def test_batched_match_equals_scipy_per_frame(seed):
    rng = np.random.default_rng(seed)
    frames, n = 400, 6
    gold = np.column_stack([rng.uniform(0, 60, (frames * n, 2)), rng.uniform(5, 30, (frames * n, 2))])
    gold = gold.reshape(frames, n, 4)
    pred = gold + rng.normal(0, 3, gold.shape)  # jitter
    dup = rng.random(frames) < 0.2  # duplicate boxes make some frames ambiguous
    pred[dup, 1] = pred[dup, 0] + 0.5
    pred[rng.random((frames, n)) < 0.1] = np.nan  # missing boxes (padding)
    iou = batched_box_iou(gold, pred)
    labels_g, labels_p = rng.integers(0, 3, (frames, n)), rng.integers(0, 3, (frames, n))
    same = labels_g[:, :, None] == labels_p[:, None, :]
    match, n_ambiguous = batched_match_regions(iou, threshold=0.5, same_label=same)
    assert 0 < n_ambiguous < frames
    for f in range(frames):
        assert match[f].tolist() == _scipy_match(iou[f], same[f], 0.5).tolist()


def test_batched_match_without_labels_and_threshold_check():
    sim = np.array([[[0.9, 0.6], [0.7, 0.0]], [[0.0, 0.0], [0.0, 0.95]]])
    match, n_ambiguous = batched_match_regions(sim, threshold=0.5)
    assert match.tolist() == [[1, 0], [-1, 1]]
    assert n_ambiguous == 1
    with pytest.raises(ValueError):
        batched_match_regions(sim, threshold=0)
