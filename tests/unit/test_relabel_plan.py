"""The choice of fix (DOMAIN.md "Choosing the fix"): each row of the table and its edges."""

import pytest

from plugin.relabel.plan import (
    FULL,
    NO_DATA,
    RARE_CLASSES,
    TARGETED,
    TARGETED_GUIDELINES,
    recommend_strategy,
)

EVEN_CLASSES = [("a", 400, None), ("b", 400, None), ("c", 400, None)]
EVEN_PEOPLE = [(f"ann{i}", 150, 0.125) for i in range(8)]


def classes(rate, extra=()):
    return [(label, n, rate) for label, n, _ in EVEN_CLASSES] + list(extra)


def test_plan_random_errors_below_8_percent_are_targeted():
    plan = recommend_strategy(0.05, classes(0.05), EVEN_PEOPLE)
    assert plan["strategy"] == TARGETED
    assert any("5.0%" in r for r in plan["reasons"])


def test_plan_concentrated_errors_between_8_and_15_percent_add_guideline_revision():
    # The reference case: 12.4 % overall, two bad classes, three of 22 annotators make 61 % of errors.
    per_class = [("damaged goods", 60, 0.312), ("empty shelf slot", 80, 0.227), ("box", 2000, 0.11)]
    people = [(f"new{i}", 100, 0.61 / 3) for i in range(3)] + [(f"old{i}", 100, 0.39 / 19) for i in range(19)]
    plan = recommend_strategy(0.124, per_class, people)
    assert plan["strategy"] == TARGETED_GUIDELINES
    text = " ".join(plan["reasons"])
    assert "damaged goods" in text and "empty shelf slot" in text and "new0" in text and "61%" in text


def test_plan_above_15_percent_is_full_reannotation():
    assert recommend_strategy(0.2, classes(0.2), EVEN_PEOPLE)["strategy"] == FULL


def test_plan_rare_classes_at_20_percent_in_a_5_to_12_percent_project_are_redone_alone():
    rare = [("rare", 40, 0.25)]
    plan = recommend_strategy(0.07, classes(0.06, rare), EVEN_PEOPLE)
    assert plan["strategy"] == RARE_CLASSES
    assert any("rare (25%)" in r for r in plan["reasons"])


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.0799, TARGETED),
        (0.08, TARGETED_GUIDELINES),  # "rate < 8 %" is targeted: 8 % itself is not
        (0.15, TARGETED_GUIDELINES),
        (0.1501, FULL),
    ],
)
def test_plan_band_edges(rate, expected):
    assert recommend_strategy(rate, classes(rate), EVEN_PEOPLE)["strategy"] == expected


@pytest.mark.parametrize(
    ("rate", "rare_rate", "expected"),
    [
        (0.05, 0.20, RARE_CLASSES),  # both edges inclusive: 5-12 %, 20 %+
        (0.12, 0.20, RARE_CLASSES),
        (0.0499, 0.30, TARGETED),  # below the band the rare class is left to targeted relabeling
        (0.1201, 0.30, TARGETED_GUIDELINES),
        (0.07, 0.1999, TARGETED),
    ],
)
def test_plan_rare_class_edges(rate, rare_rate, expected):
    plan = recommend_strategy(rate, classes(rate, [("rare", 40, rare_rate)]), EVEN_PEOPLE)
    assert plan["strategy"] == expected


def test_plan_a_class_too_small_to_judge_or_not_rare_does_not_count_as_rare():
    tiny = [("tiny", 3, 1.0)]
    assert recommend_strategy(0.07, classes(0.07, tiny), EVEN_PEOPLE)["strategy"] == TARGETED
    common = [("common", 400, 0.25)]  # a quarter of the records is not rare
    assert recommend_strategy(0.07, classes(0.07, common), EVEN_PEOPLE)["strategy"] == TARGETED


def test_plan_evenly_spread_errors_in_the_middle_band_say_so():
    plan = recommend_strategy(0.10, classes(0.10), EVEN_PEOPLE)
    assert plan["strategy"] == TARGETED_GUIDELINES
    assert any("spread evenly" in r for r in plan["reasons"])
    assert not any("concentrated" in r or "annotator(s)" in r for r in plan["reasons"])


def test_plan_without_gold_figures_says_there_is_no_data():
    assert recommend_strategy(None, [], [])["strategy"] == NO_DATA
