"""The requalification decision: flag rule, evidence, reset, decline start, presets, quiz."""

import json
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.quality import (
    GoldAnswer,
    RequalificationPolicy,
    decide_status,
    decline_start,
    flag_mask,
    judge_quiz,
    wilson_interval,
    window_counts,
)

T0 = datetime(2024, 3, 1, 9, 0)
outcome_lists = st.lists(st.booleans(), max_size=120)


def answers_from(outcomes):
    return [
        GoldAnswer(f"g{i}", T0 + timedelta(minutes=i), float(ok), bool(ok)) for i, ok in enumerate(outcomes)
    ]


@given(outcome_lists, st.sampled_from([0.85, 0.9, 0.95]))
def test_flag_mask_is_the_wilson_upper_bound_below_threshold(outcomes, threshold):
    policy = RequalificationPolicy(threshold=threshold)
    k, n = window_counts(outcomes, policy.window)
    _, upper = wilson_interval(k, n, confidence_level=policy.decision_confidence)
    expected = (upper < threshold) & (np.arange(1, len(outcomes) + 1) >= policy.min_answers)
    clear = np.abs(upper - threshold) > 1e-9
    assert np.array_equal(flag_mask(outcomes, policy)[clear], expected[clear])


@given(outcome_lists)
def test_decide_status_flags_exactly_where_the_vectorized_rule_does(outcomes):
    decision = decide_status(answers_from(outcomes))
    mask = flag_mask(outcomes, RequalificationPolicy())
    assert (decision.status == "flagged") == bool(mask.any())
    if mask.any():
        assert decision.flagged_at == T0 + timedelta(minutes=int(mask.argmax()))


@settings(max_examples=50)
@given(outcome_lists, st.lists(st.booleans(), max_size=40))
def test_a_flag_does_not_depend_on_when_the_decision_is_taken(first, more):
    early, late = decide_status(answers_from(first)), decide_status(answers_from(first + more))
    if early.status == "flagged":
        assert replace(late, answers=early.answers) == early


def test_a_perfect_annotator_is_ok_from_the_first_answer():
    for n in (1, 5, 10, 50, 200):
        assert decide_status(answers_from([True] * n)).status == "ok"


def test_no_flag_before_the_minimum_number_of_answers():
    decision = decide_status(answers_from([False] * 9))
    assert decision.status == "watch" and "9 of the 10" in decision.reason
    assert decide_status(answers_from([False] * 10)).status == "flagged"
    assert decide_status(answers_from([]), policy=RequalificationPolicy(min_answers=3)).status == "ok"


def test_one_bad_day_is_watch_not_flag():
    assert decide_status(answers_from([True] * 45 + [False] * 5)).status == "ok"
    decision = decide_status(answers_from([True] * 30 + [False] * 5))
    assert decision.status == "watch" and decision.accuracy == pytest.approx(30 / 35)
    assert decision.flagged_at is None and decision.decline_started_at is None


def test_flag_carries_its_evidence():
    outcomes = [True] * 60 + [True, False, False, True, False, False, False, True, False, False] * 3
    answers = answers_from(outcomes)
    decision = decide_status(answers)
    assert decision.status == "flagged"
    at = int(flag_mask(outcomes, RequalificationPolicy()).argmax())
    assert decision.flagged_at == answers[at].answered_at == decision.window_end
    assert decision.window_start == answers[at - 49].answered_at and decision.n == 50
    assert decision.upper < decision.decision_upper < 0.9 < decision.accuracy + 0.2
    assert decision.z_score < decision.z_critical == pytest.approx(-2.5758, abs=1e-4)
    assert decision.decline_started_at == answers[61].answered_at  # first wrong answer of the decline
    assert decision.answers == len(outcomes) and decision.threshold == 0.9


def test_since_drops_the_evidence_before_a_passed_quiz():
    answers = answers_from([False] * 12 + [True] * 10)
    assert decide_status(answers).status == "flagged"
    after_quiz = decide_status(answers, since=answers[12].answered_at)
    assert after_quiz.status == "ok" and after_quiz.answers == 10


def test_decision_to_dict_is_json_ready():
    empty = json.loads(json.dumps(decide_status([]).to_dict(), allow_nan=False))
    assert empty["status"] == "ok" and empty["accuracy"] is None and empty["window_start"] is None
    flagged = json.loads(json.dumps(decide_status(answers_from([False] * 10)).to_dict(), allow_nan=False))
    assert (
        flagged["flagged_at"] == "2024-03-01T09:09:00"
        and flagged["decline_started_at"] == "2024-03-01T09:00:00"
    )


@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_decline_start_maximizes_the_suffix_log_likelihood_ratio(outcomes):
    p0, p1 = 0.9, 0.8
    llr = [np.log(p1 / p0) if ok else np.log((1 - p1) / (1 - p0)) for ok in outcomes]
    sums = [sum(llr[s:]) for s in range(len(llr))]
    start = decline_start(outcomes, p0, p1)
    if max(sums) > 0:
        assert sums[start] == pytest.approx(max(sums)) and not outcomes[start]
    else:
        assert start == 0


def test_presets_and_their_alternatives():
    assert RequalificationPolicy.from_preset("safety_critical").threshold == 0.95
    nlp = RequalificationPolicy.from_preset("nlp", window=30)
    assert (nlp.threshold, nlp.window, nlp.alternative) == (0.85, 30, pytest.approx(0.70))
    assert RequalificationPolicy().alternative == pytest.approx(0.80)
    assert RequalificationPolicy(threshold=0.4).alternative == pytest.approx(0.2)
    with pytest.raises(ValueError, match="unknown preset"):
        RequalificationPolicy.from_preset("medical")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 1.0},
        {"min_answers": 60},
        {"min_answers": 0},
        {"decision_confidence": 1.0},
        {"delta": 0.95},
    ],
)
def test_policy_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        RequalificationPolicy(**kwargs)


@pytest.mark.parametrize(
    ("outcomes", "status", "complete"),
    [
        ([], "in_progress", False),
        ([1] * 8, "in_progress", False),
        ([1] * 9, "passed", False),
        ([1] * 9 + [0], "passed", True),
        ([1] * 10, "passed", True),
        ([0, 1, 0], "failed", False),
        ([1] * 8 + [0, 0], "failed", True),
        ([True, False] + [True] * 7, "in_progress", False),
    ],
)
def test_judge_quiz(outcomes, status, complete):
    result = judge_quiz(outcomes)
    assert (result.status, result.complete, result.answered) == (status, complete, len(outcomes))


def test_judge_quiz_pass_mark_length_and_scores():
    assert judge_quiz([1, 1, 1, 0], pass_mark=0.75, n_items=4).status == "passed"
    assert judge_quiz([0.95] * 10).status == "passed"
    assert judge_quiz([0.85] * 10).accuracy == pytest.approx(0.85)
    assert np.isnan(judge_quiz([]).accuracy)
    with pytest.raises(ValueError):
        judge_quiz([1] * 11)
    with pytest.raises(ValueError):
        judge_quiz([1.5])
