"""Bootstrap confidence intervals: reproducible from a seed, and around the estimate."""

import numpy as np
import pytest

from plugin.metrics import bootstrap_ci, cohen_kappa_score, krippendorff_alpha


def test_bootstrap_ci_is_reproducible_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 300)
    b = np.where(rng.random(300) < 0.8, a, rng.integers(0, 3, 300))
    first = bootstrap_ci(cohen_kappa_score, a, b, rng=42, n_resamples=300)
    again = bootstrap_ci(cohen_kappa_score, a, b, rng=np.random.default_rng(42), n_resamples=300)
    assert first == again
    assert first.estimate == cohen_kappa_score(a, b)
    assert first.low < first.estimate < first.high
    narrower = bootstrap_ci(cohen_kappa_score, a, b, rng=42, n_resamples=300, confidence_level=0.5)
    assert first.low <= narrower.low <= narrower.high <= first.high


def test_bootstrap_ci_over_items_of_a_raters_by_items_table():
    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, 5.0], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5.0]])
    ci = bootstrap_ci(lambda items: krippendorff_alpha(items.T), data.T, rng=1, n_resamples=100)
    assert ci.low <= ci.estimate <= ci.high <= 1.0


def test_bootstrap_ci_rejects_unpaired_arrays_and_all_nan():
    with pytest.raises(ValueError):
        bootstrap_ci(cohen_kappa_score, [1, 2], [1], rng=0)
    ci = bootstrap_ci(lambda x: float("nan"), [1, 2, 3], rng=0, n_resamples=10)
    assert np.isnan(ci.low) and np.isnan(ci.high)
