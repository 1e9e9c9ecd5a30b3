"""Accuracy on hidden gold: Wilson interval (cross-checked with statsmodels), windows, per class, trend."""

from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from plugin.quality import (
    GoldAnswer,
    accuracy_trend,
    gold_answer_from_verdict,
    measure_accuracy,
    wilson_interval,
    window_counts,
)
from plugin.scoring import ClassOutcome, TagVerdict, TaskVerdict

T0 = datetime(2024, 3, 1, 9, 0)


def answers_from(outcomes, classes=None):
    return [
        GoldAnswer(f"g{i}", T0 + timedelta(minutes=i), float(ok), bool(ok), (classes or {}).get(i, {}))
        for i, ok in enumerate(outcomes)
    ]


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_wilson_interval_matches_statsmodels(level):
    k = np.array([0, 1, 5, 9, 10, 45, 50, 37])
    n = np.array([10, 10, 10, 10, 10, 50, 50, 50])
    lower, upper = wilson_interval(k, n, confidence_level=level)
    ref_lower, ref_upper = proportion_confint(k, n, alpha=1 - level, method="wilson")
    np.testing.assert_allclose(lower, ref_lower, atol=1e-12)
    np.testing.assert_allclose(upper, ref_upper, atol=1e-12)


def test_wilson_interval_without_answers_is_everything():
    lower, upper = wilson_interval(0, 0)
    assert (float(lower), float(upper)) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence_level=1.0)


@given(n=st.integers(1, 500), data=st.data(), level=st.floats(0.5, 0.999))
def test_wilson_interval_contains_estimate_and_grows_with_successes(n, data, level):
    k = data.draw(st.integers(0, n))
    lower, upper = wilson_interval(np.arange(n + 1), n, confidence_level=level)
    assert lower[k] <= k / n + 1e-12 and k / n - 1e-12 <= upper[k]
    assert np.all(np.diff(lower) >= -1e-12) and np.all(np.diff(upper) >= -1e-12)
    wider_lower, wider_upper = wilson_interval(k, n, confidence_level=min(level + 0.0005, 0.9995))
    assert wider_lower <= lower[k] + 1e-12 and upper[k] <= wider_upper + 1e-12


@given(st.lists(st.booleans(), max_size=80), st.integers(1, 60))
def test_window_counts_equal_a_plain_loop(outcomes, window):
    k, n = window_counts(outcomes, window)
    for t in range(len(outcomes)):
        chunk = outcomes[max(0, t - window + 1) : t + 1]
        assert (k[t], n[t]) == (sum(chunk), len(chunk))


def test_window_counts_run_over_many_annotators_at_once():
    rng = np.random.default_rng(0)
    runs = rng.random((5, 30)) < 0.8
    k, n = window_counts(runs, 7)
    for i in range(5):
        assert k[i].tolist() == window_counts(runs[i], 7)[0].tolist()


def test_measure_accuracy_uses_only_the_last_window():
    answers = answers_from([False] * 10 + [True] * 50)
    acc = measure_accuracy(answers, window=50)
    assert (acc.n, acc.correct, acc.accuracy) == (50, 50, 1.0)
    assert acc.window_start == answers[10].answered_at and acc.window_end == answers[-1].answered_at
    assert acc.lower == pytest.approx(0.9287, abs=1e-4) and acc.upper == 1.0


def test_measure_accuracy_per_class_counts_answers_whose_gold_holds_the_class():
    classes = {0: {"car": True}, 1: {"car": False, "van": True}, 2: {"van": True}, 3: {}}
    acc = measure_accuracy(answers_from([True, False, True, True], classes))
    assert set(acc.per_class) == {"car", "van"}
    assert (acc.per_class["car"].n, acc.per_class["car"].accuracy) == (2, 0.5)
    assert (acc.per_class["van"].n, acc.per_class["van"].accuracy) == (2, 1.0)
    ref = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (acc.per_class["car"].lower, acc.per_class["car"].upper) == pytest.approx(ref)


def test_measure_accuracy_without_answers_is_nan_with_the_whole_interval():
    acc = measure_accuracy([])
    assert np.isnan(acc.accuracy) and (acc.lower, acc.upper, acc.n) == (0.0, 1.0, 0)
    assert acc.to_dict()["accuracy"] is None and acc.to_dict()["trend"] is None
    assert acc.window_start is None and acc.per_class == {}


def test_accuracy_to_dict_is_json_ready():
    import json

    acc = measure_accuracy(answers_from([True, False, True], {0: {"cat": True}}))
    data = json.loads(json.dumps(acc.to_dict(), allow_nan=False))
    assert data["per_class"]["cat"] == {
        "accuracy": 1.0,
        "lower": pytest.approx(0.2065, abs=1e-4),
        "upper": 1.0,
        "n": 1,
    }
    assert data["window_start"] == "2024-03-01T09:00:00"


@pytest.mark.parametrize(
    ("outcomes", "trend"),
    [([], float("nan")), ([1], float("nan")), ([0, 1], 1.0), ([1, 1, 0, 0, 0], -1.0), ([1, 0, 1, 0], 0.0)],
)
def test_accuracy_trend_is_later_half_minus_earlier_half(outcomes, trend):
    assert accuracy_trend(outcomes) == pytest.approx(trend, nan_ok=True)


def test_gold_answer_from_verdict_marks_a_class_right_only_if_every_instance_is():
    outcomes = (
        ClassOutcome("box", "car", "car"),
        ClassOutcome("box", "car", None),
        ClassOutcome("box", "person", "person"),
        ClassOutcome("box", None, "van"),
    )
    verdict = TaskVerdict(
        0.6, False, 0.9, {"box": TagVerdict("box", "rectanglelabels", 0.6, False, 0.9, outcomes=outcomes)}
    )
    answer = gold_answer_from_verdict("item-7", T0, verdict)
    assert answer == GoldAnswer("item-7", T0, 0.6, False, {"car": False, "person": True})
