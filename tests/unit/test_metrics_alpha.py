"""Krippendorff's alpha, cross-checked against the ``krippendorff`` package."""

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.metrics import krippendorff_alpha

LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def _random_data(seed, n_raters=6, n_items=80, n_values=5, missing=0.4, floats=False):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, n_values + 1, n_items)
    data = np.where(
        rng.random((n_raters, n_items)) < 0.7, truth, rng.integers(1, n_values + 1, (n_raters, n_items))
    )
    data = data.astype(float) * (1.37 if floats else 1.0)
    data[rng.random(data.shape) < missing] = np.nan
    return data


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_equals_krippendorff_package(seed, level):
    data = _random_data(seed, floats=seed % 2 == 1)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level=level) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_equals_krippendorff_with_sparse_counts_and_wide_values(level, monkeypatch):
    import plugin.metrics.alpha as alpha_module

    monkeypatch.setattr(alpha_module, "_DENSE_CELLS_LIMIT", 0)  # force the sparse coincidence path
    rng = np.random.default_rng(7)
    data = rng.choice([1.0, 2.5, 1000.0, 7.0], size=(4, 50))
    data[rng.random(data.shape) < 0.3] = np.nan
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level=level) == pytest.approx(expected, abs=1e-9)


def test_alpha_degenerate_cases_are_documented_values():
    one_value = np.array([[1.0, 1.0, np.nan], [1.0, 1.0, 1.0]])
    for level in LEVELS:
        assert krippendorff_alpha(one_value, level=level) == 1.0
    with pytest.raises(ValueError):  # the package refuses a single-value domain
        krippendorff.alpha(reliability_data=one_value, level_of_measurement="nominal")
    assert np.isnan(krippendorff_alpha([[1.0, np.nan], [np.nan, 2.0]]))  # nothing pairable
    assert np.isnan(krippendorff_alpha(np.full((3, 0), np.nan)))
    with pytest.raises(ValueError):
        krippendorff_alpha([[1.0, 2.0]], level="cardinal")


def test_alpha_perfect_and_systematic_disagreement():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert krippendorff_alpha([[1, 2, 1, 2], [2, 1, 2, 1]]) < 0


ratings_st = st.lists(
    st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=6, max_size=6), min_size=2, max_size=4
)


@settings(max_examples=50, deadline=None)
@given(ratings_st, st.sampled_from(LEVELS))
def test_alpha_properties(rows, level):
    data = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    alpha = krippendorff_alpha(data, level=level)
    if np.isnan(alpha):
        return
    assert alpha <= 1.0 + 1e-9
    assert krippendorff_alpha(data[::-1], level=level) == pytest.approx(alpha, abs=1e-9)  # rater order
    assert krippendorff_alpha(data[:, ::-1], level=level) == pytest.approx(alpha, abs=1e-9)  # item order
    if level == "nominal":
        renamed = np.array([2.0, 3.0, 0.0, 1.0])[np.nan_to_num(data, nan=0).astype(int)]
        renamed[np.isnan(data)] = np.nan
        assert krippendorff_alpha(renamed) == pytest.approx(alpha, abs=1e-9)
    complete = np.tile(np.nan_to_num(data[:1], nan=1.0), (3, 1))
    assert krippendorff_alpha(complete, level=level) == 1.0
