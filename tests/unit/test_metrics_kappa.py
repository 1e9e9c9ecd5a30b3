"""Cohen's and Fleiss' kappa, cross-checked against scikit-learn and statsmodels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score as sk_kappa
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from plugin.metrics import (
    category_kappa_scores,
    cohen_kappa_score,
    confusion_table,
    count_ratings,
    fleiss_kappa_score,
    raw_agreement,
)

SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_equals_sklearn_on_random_integers(seed, weights):
    rng = np.random.default_rng(seed)
    k = rng.integers(2, 15)
    a = rng.integers(0, k, 300)
    b = np.where(rng.random(300) < 0.6, a, rng.integers(0, k, 300))
    assert cohen_kappa_score(a, b, weights=weights) == pytest.approx(
        sk_kappa(a, b, weights=weights), abs=1e-9
    )


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_equals_sklearn_with_strings_gaps_and_labels(weights):
    rng = np.random.default_rng(1)
    names = np.array(["cat", "dog", "emu", "fox"])
    a, b = names[rng.integers(0, 4, 200)], names[rng.integers(0, 4, 200)]
    assert cohen_kappa_score(a, b, weights=weights) == pytest.approx(
        sk_kappa(a, b, weights=weights), abs=1e-9
    )
    labels = ["fox", "cat", "dog"]  # a subset, out of order: pairs with "emu" are dropped
    expected = sk_kappa(a, b, labels=labels, weights=weights)
    assert cohen_kappa_score(a, b, labels=labels, weights=weights) == pytest.approx(expected, abs=1e-9)
    gaps_a, gaps_b = rng.choice([0, 5, 40], 100), rng.choice([0, 5, 40], 100)  # unused codes in between
    expected = sk_kappa(gaps_a, gaps_b, weights=weights)
    assert cohen_kappa_score(gaps_a, gaps_b, weights=weights) == pytest.approx(expected, abs=1e-9)


# sklearn warns about exactly the degenerate case this test is about.
@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_cohen_kappa_degenerate_cases_are_documented_values():
    assert cohen_kappa_score(["x"] * 5, ["x"] * 5) == 1.0  # sklearn: nan (expected agreement 1)
    assert np.isnan(sk_kappa(["x"] * 5, ["x"] * 5))
    assert cohen_kappa_score([2] * 4, [2] * 4, weights="quadratic") == 1.0
    assert np.isnan(cohen_kappa_score([], []))
    assert cohen_kappa_score([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(-1.0)
    assert cohen_kappa_score([0, 0], [0, 1]) == pytest.approx(sk_kappa([0, 0], [0, 1]))
    with pytest.raises(ValueError):
        cohen_kappa_score([1, 2], [1])
    with pytest.raises(ValueError):
        cohen_kappa_score([1, 2], [1, 2], weights="cubic")


labels_st = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(labels_st)
def test_cohen_kappa_properties(pairs):
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    kappa = cohen_kappa_score(a, b)
    assert kappa == pytest.approx(cohen_kappa_score(b, a), abs=1e-12)  # symmetric
    assert kappa <= 1.0 + 1e-12
    assert cohen_kappa_score(a, a) == 1.0  # perfect agreement
    relabel = np.array([3, 0, 4, 1, 2])  # renaming categories does not change unweighted kappa
    assert cohen_kappa_score(relabel[a], relabel[b]) == pytest.approx(kappa, abs=1e-12)
    quadratic = cohen_kappa_score(a, b, weights="quadratic")
    assert quadratic == pytest.approx(cohen_kappa_score(b, a, weights="quadratic"), abs=1e-12)


def test_confusion_table_counts_pairs():
    table, labels = confusion_table(["x", "y", "y"], ["x", "y", "x"])
    assert table.tolist() == [[1, 0], [1, 1]]
    assert labels.tolist() == ["x", "y"]


@pytest.mark.parametrize("seed", range(10))
def test_category_kappa_equals_sklearn_one_vs_rest(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 5, 200))
    scores = category_kappa_scores(a, b)
    for category, kappa in scores.items():
        assert kappa == pytest.approx(sk_kappa(a == category, b == category), abs=1e-9)


def test_category_kappa_degenerate_values():
    assert category_kappa_scores(["a", "a"], ["a", "a"]) == {"a": 1.0}
    assert category_kappa_scores([0, 1], [0, 1], labels=[0, 1, 2])[2] == 1.0  # unused category
    assert all(np.isnan(v) for v in category_kappa_scores([], [], labels=["a"]).values())


def test_raw_agreement():
    assert raw_agreement([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
    assert np.isnan(raw_agreement([], []))


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, 150)
    ratings = np.where(rng.random((150, 5)) < 0.7, truth[:, None], rng.integers(0, 4, (150, 5)))
    counts, _ = aggregate_raters(ratings, n_cat=4)
    assert count_ratings(ratings, n_categories=4).tolist() == counts.tolist()
    assert fleiss_kappa_score(counts) == pytest.approx(sm_fleiss(counts, method="fleiss"), abs=1e-9)


def test_fleiss_kappa_degenerate_and_varying_raters():
    assert fleiss_kappa_score([[3, 0], [3, 0]]) == 1.0  # statsmodels: nan
    assert np.isnan(fleiss_kappa_score([[1, 0], [0, 1]]))  # no item rated twice
    assert fleiss_kappa_score([[3, 0], [0, 3]]) == 1.0
    # Items rated by a different number of raters: items with fewer than 2 ratings are ignored.
    assert fleiss_kappa_score([[2, 0], [0, 2], [1, 0]]) == 1.0
    missing = count_ratings(np.array([[0, 1, np.nan], [1, 1, 1]]))
    assert missing.tolist() == [[1, 1], [0, 3]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=2, max_size=30))
def test_fleiss_kappa_properties(rows):
    ratings = np.array(rows)
    counts = count_ratings(ratings, n_categories=4)
    kappa = fleiss_kappa_score(counts)
    assert kappa <= 1.0 + 1e-12
    assert fleiss_kappa_score(counts[:, ::-1]) == pytest.approx(kappa, abs=1e-12)  # category order
    assert fleiss_kappa_score(counts[::-1]) == pytest.approx(kappa, abs=1e-12)  # item order
    assert fleiss_kappa_score(count_ratings(np.repeat(ratings[:, :1], 3, axis=1))) == 1.0
