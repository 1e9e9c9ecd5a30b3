"""Batch agreement figures, cross-checked against scikit-learn, statsmodels and krippendorff."""

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from plugin.agreement.figures import NONE, PairedLabels, agreement_figures
from plugin.agreement.items import TaskPair, mean_pairwise_f1, pair_of, paired_labels
from plugin.agreement.resample import (
    alpha_of_tables,
    category_kappa_of_tables,
    kappa_of_tables,
    raw_agreement_of_tables,
    resampled_tables,
)
from plugin.agreement.sampling import batch_seed, choose_sample, sample_size
from plugin.labelconfig import parse_label_config
from plugin.metrics import (
    category_kappa_scores,
    count_ratings,
    fleiss_kappa_score,
    kappa_from_table,
    krippendorff_alpha,
)

LABELS = np.array(["bird", "cat", "dog"])


def confused_ratings(n, rng, *, confusion=0.3):
    """Two raters who agree except that "dog" is often called "cat" by the second."""
    first = rng.choice(LABELS, size=n, p=[0.3, 0.35, 0.35])
    second = first.copy()
    flip = (first == "dog") & (rng.random(n) < confusion)
    second[flip] = "cat"
    noise = rng.random(n) < 0.03
    second[noise] = rng.choice(LABELS, size=int(noise.sum()))
    return first, second


def pairs_of(first, second, first_annotator, second_annotator):
    n = len(first)
    return PairedLabels(
        tuple(range(n)),
        tuple(first),
        tuple(second),
        tuple(int(a) for a in np.broadcast_to(first_annotator, n)),
        tuple(int(b) for b in np.broadcast_to(second_annotator, n)),
    )


@pytest.mark.parametrize("n, rate", [(500, 0.10), (2000, 0.10), (37, 0.25), (3, 0.10)])
def test_choose_sample_is_the_configured_share_and_deterministic_per_seed(n, rate):
    ids = list(range(1000, 1000 + n))
    chosen = choose_sample(ids, rate, seed=11)
    assert len(chosen) == sample_size(n, rate) == round(n * rate)
    assert set(chosen) <= set(ids) and len(set(chosen)) == len(chosen)
    assert choose_sample(list(reversed(ids)), rate, seed=11) == chosen
    if len(chosen) >= 5:
        assert choose_sample(ids, rate, seed=12) != chosen


def test_batch_seed_depends_on_the_secret_and_the_batch():
    assert batch_seed("s", 1, [3, 1, 2]) == batch_seed("s", 1, [1, 2, 3])
    assert len({batch_seed("s", 1, [1, 2]), batch_seed("t", 1, [1, 2]), batch_seed("s", 2, [1, 2])}) == 3
    assert 0 <= batch_seed("s", 1, range(10_000)) < 2**63


def test_a_fixed_pair_gets_cohen_kappa_equal_to_sklearn_overall_and_per_category():
    first, second = confused_ratings(400, np.random.default_rng(1))
    figures = agreement_figures(pairs_of(first, second, 4, 9), n_resamples=0)
    assert figures["method"] == "cohen"
    assert figures["kappa"] == pytest.approx(cohen_kappa_score(first, second))
    for category in figures["per_category"]:
        label = category["label"]
        expected = cohen_kappa_score(first == label, second == label)
        assert category["kappa"] == pytest.approx(expected), label
        assert category["n"] == int(((first == label) | (second == label)).sum())
    codes = np.searchsorted(LABELS, np.vstack([first, second])).astype(float)
    assert figures["alpha"] == pytest.approx(krippendorff.alpha(codes, level_of_measurement="nominal"))
    assert figures["raw_agreement"] == pytest.approx(np.mean(first == second))


def test_changing_pairs_get_fleiss_kappa_equal_to_statsmodels_overall_and_per_category():
    rng = np.random.default_rng(2)
    first, second = confused_ratings(300, rng)
    who = rng.choice([[3, 5], [3, 8], [5, 8]], size=300)
    figures = agreement_figures(pairs_of(first, second, who[:, 0], who[:, 1]), n_resamples=0)
    assert figures["method"] == "fleiss"
    ratings = np.column_stack([first, second])
    assert figures["kappa"] == pytest.approx(fleiss_kappa(aggregate_raters(ratings)[0]))
    for category in figures["per_category"]:
        binary = (ratings == category["label"]).astype(int)
        assert category["kappa"] == pytest.approx(fleiss_kappa(aggregate_raters(binary)[0]))
    assert figures["annotators"] == [3, 5, 8]


def test_vectorized_bootstrap_statistics_equal_the_library_on_every_resample():
    first, second = confused_ratings(60, np.random.default_rng(3))
    codes_a, codes_b = np.searchsorted(LABELS, first), np.searchsorted(LABELS, second)
    tables = resampled_tables(codes_a, codes_b, 3, n_resamples=25, rng=np.random.default_rng(4))
    assert (tables.sum(axis=(1, 2)) == 60).all()
    cohen, fleiss = kappa_of_tables(tables, method="cohen"), kappa_of_tables(tables, method="fleiss")
    per_category = category_kappa_of_tables(tables, method="cohen")
    alphas, raw = alpha_of_tables(tables), raw_agreement_of_tables(tables)
    for b, table in enumerate(tables):
        a_codes, b_codes = np.nonzero(table)
        counts = table[a_codes, b_codes]
        a, bb = np.repeat(a_codes, counts), np.repeat(b_codes, counts)  # the resample's items
        assert cohen[b] == pytest.approx(kappa_from_table(table))
        assert fleiss[b] == pytest.approx(
            fleiss_kappa_score(count_ratings(np.column_stack([a, bb]), n_categories=3))
        )
        scores = category_kappa_scores(a, bb, labels=np.arange(3))
        assert per_category[b] == pytest.approx([scores[c] for c in range(3)])
        assert alphas[b] == pytest.approx(krippendorff_alpha(np.vstack([a, bb]).astype(float)))
        assert raw[b] == pytest.approx(np.mean(a == bb))


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_items():
    widths = []
    for n in (60, 1500):
        first, second = confused_ratings(n, np.random.default_rng(5))
        figures = agreement_figures(pairs_of(first, second, 1, 2), n_resamples=400, seed=6)
        again = agreement_figures(pairs_of(first, second, 1, 2), n_resamples=400, seed=6)
        assert figures == again  # seeded
        for key in ("kappa", "alpha", "raw_agreement"):
            low, high = figures[f"{key}_ci"]
            assert low <= figures[key] <= high, key
        for category in figures["per_category"]:
            assert category["ci"][0] <= category["kappa"] <= category["ci"][1]
        widths.append(figures["kappa_ci"][1] - figures["kappa_ci"][0])
    assert widths[1] < widths[0] / 2


def test_weak_category_is_below_threshold_with_its_confusions_and_annotators():
    first, second = confused_ratings(400, np.random.default_rng(7), confusion=0.5)
    figures = agreement_figures(pairs_of(first, second, 4, 9), threshold=0.75, n_resamples=0)
    weak = {c["label"]: c for c in figures["per_category"] if c["below_threshold"]}
    assert "dog" in weak and "bird" not in weak
    assert weak["dog"]["confusions"][0]["count"] == max(c["count"] for c in figures["confusions"])
    assert {weak["dog"]["confusions"][0]["a"], weak["dog"]["confusions"][0]["b"]} == {"cat", "dog"}
    gave = {a["annotator_id"]: a["gave_label"] for a in weak["dog"]["annotators"]}
    assert gave[4] > gave[9]  # annotator 4 said "dog" where 9 said something else


def choices(value):
    return [{"from_name": "animal", "to_name": "t", "type": "choices", "value": {"choices": [value]}}]


def box(label, x):
    value = {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": [label]}
    return {"id": f"r{x}", "from_name": "box", "to_name": "img", "type": "rectanglelabels", "value": value}


def test_paired_labels_from_results_use_the_scoring_engine_and_order_raters_by_id():
    config = parse_label_config(
        '<View><Text name="t" value="$text"/><Choices name="animal" toName="t">'
        '<Choice value="cat"/><Choice value="dog"/></Choices></View>'
    )
    pair = pair_of(7, [(9, choices("cat")), (4, choices("dog")), (9, choices("dog")), (5, choices("cat"))])
    assert pair == TaskPair(7, 4, choices("dog"), 9, choices("dog"))  # 9's latest; 5 came third
    assert pair_of(8, [(9, choices("cat")), (9, choices("dog"))]) is None
    labels = paired_labels([pair, TaskPair(8, 4, choices("cat"), 9, [])], config)
    assert labels.first == ("dog", "cat") and labels.second == ("dog", NONE)
    assert mean_pairwise_f1([pair], config) is None


def test_regions_pair_up_by_overlap_and_give_a_pairwise_f1():
    config = parse_label_config(
        '<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
        '<Label value="car"/><Label value="van"/></RectangleLabels></View>'
    )
    pair = TaskPair(
        1, 2, [box("car", 10), box("van", 50)], 3, [box("car", 11), box("car", 52), box("car", 80)]
    )
    labels = paired_labels([pair], config)
    assert sorted(zip(labels.first, labels.second, strict=True)) == sorted(
        [("car", "car"), ("van", "car"), (NONE, "car")]
    )
    assert mean_pairwise_f1([pair], config) == pytest.approx(2 * 1 / 5)
