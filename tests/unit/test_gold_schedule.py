import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.gold.choose import GoldCandidate, choose_gold_item
from plugin.gold.schedule import GoldPlan, gold_threshold, is_gold_due, jitter_for


def gold_count(n_regular, plan, salt, annotator):
    """How many regular gold items the schedule has made due after n regular tasks."""
    k = 0
    while is_gold_due(n_regular, k, plan, salt=salt, project_id=1, annotator_id=annotator):
        k += 1
    return k


@settings(max_examples=200, deadline=None)
@given(n=st.integers(100, 3000), annotator=st.integers(1, 10_000), salt=st.text(min_size=1, max_size=20))
def test_gold_share_stays_in_the_band_whatever_the_annotators_pace(n, annotator, salt):
    share = gold_count(n, GoldPlan(), salt, annotator) / n
    assert 0.03 <= share <= 0.05


def test_gold_thresholds_increase_and_are_not_evenly_spaced():
    plan = GoldPlan()
    thresholds = [gold_threshold(k, plan, salt="s", project_id=1, annotator_id=2) for k in range(40)]
    assert thresholds == sorted(thresholds)
    gaps = {b - a for a, b in zip(thresholds, thresholds[1:], strict=False)}
    assert len(gaps) > 5  # jittered, so the next one cannot be predicted from the last gap
    assert min(gaps) >= 25 * (1 - 2 * plan.jitter) - 1 and max(gaps) <= 25 * (1 + 2 * plan.jitter) + 1


def test_jitter_is_reproducible_but_depends_on_the_secret():
    assert jitter_for("a", 1, 2, 3, 0.35) == jitter_for("a", 1, 2, 3, 0.35)
    assert jitter_for("a", 1, 2, 3, 0.35) != jitter_for("b", 1, 2, 3, 0.35)
    values = [jitter_for("a", 1, 2, k, 0.35) for k in range(2000)]
    assert min(values) >= -0.35 and max(values) <= 0.35
    assert abs(sum(values) / len(values)) < 0.02


@pytest.mark.parametrize(("rate", "jitter"), [(0, 0.1), (0.6, 0.1), (0.04, 0.5), (0.04, -0.1)])
def test_gold_plan_rejects_nonsense(rate, jitter):
    with pytest.raises(ValueError):
        GoldPlan(rate=rate, jitter=jitter)


def items():
    return [
        GoldCandidate(1, ("cat",), 101, 5),
        GoldCandidate(2, ("dog",), 102, 1),
        GoldCandidate(3, ("dog", "cat"), None, 0),
        GoldCandidate(4, ("bird",), 104, 0),
    ]


def test_choose_never_repeats_an_item_nor_a_task_the_annotator_labelled():
    rng = random.Random(0)
    chosen = choose_gold_item(items(), seen_items={3, 4}, labelled_tasks={102}, class_accuracy={}, rng=rng)
    assert chosen == 1
    assert (
        choose_gold_item(items(), seen_items={1, 3, 4}, labelled_tasks={102}, class_accuracy={}, rng=rng)
        is None
    )


def test_choose_prefers_weak_classes_then_least_exposed():
    rng = random.Random(0)
    assert choose_gold_item(items(), seen_items=set(), labelled_tasks=set(), class_accuracy={}, rng=rng) in {
        3,
        4,
    }
    weak_on_cat = {"cat": 0.5, "dog": 0.95}
    assert (
        choose_gold_item(items(), seen_items=set(), labelled_tasks=set(), class_accuracy=weak_on_cat, rng=rng)
        == 3
    )
    assert (
        choose_gold_item(items(), seen_items={3}, labelled_tasks=set(), class_accuracy=weak_on_cat, rng=rng)
        == 1
    )


def test_choose_spreads_exposure_at_random_among_equals():
    library = [GoldCandidate(i, ("x",), None, 0) for i in range(10)]
    picks = {
        choose_gold_item(
            library, seen_items=set(), labelled_tasks=set(), class_accuracy={}, rng=random.Random(s)
        )
        for s in range(50)
    }
    assert len(picks) > 5
