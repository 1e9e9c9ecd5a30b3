"""A labelled dataset with flipped labels and a scored model, for the confident-learning tests."""

from typing import NamedTuple

import numpy as np


class NoisyLabels(NamedTuple):
    given: np.ndarray  # the class index each record was labelled with
    predicted: np.ndarray  # the model's class index
    score: np.ndarray  # the model's confidence in ``predicted``
    flipped: np.ndarray  # whether ``given`` differs from the truth


def noisy_labels(rng: np.random.Generator, n: int, k: int, flip: float, model_accuracy: float) -> NoisyLabels:
    """``n`` records of ``k`` classes; ``flip`` of the labels changed; a model right ``model_accuracy``
    of the time, more confident when right (as a trained classifier is)."""
    truth = rng.integers(0, k, n)
    right = rng.random(n) < model_accuracy
    predicted = np.where(right, truth, (truth + rng.integers(1, k, n)) % k)
    score = np.where(right, rng.uniform(0.6, 0.99, n), rng.uniform(0.3, 0.7, n))
    flipped = rng.random(n) < flip
    given = np.where(flipped, (truth + rng.integers(1, k, n)) % k, truth)
    return NoisyLabels(given, predicted, score, flipped)
