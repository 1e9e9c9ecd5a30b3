"""DOMAIN.md's "Choosing the fix" table (:func:`plugin.quality.plan.recommend`): each row, its edges,
the gaps the table leaves, and the error profile. One table for ``lsqa relabel plan`` and the audit."""

from pathlib import Path

import pytest
import yaml

from plugin.quality.plan import (
    FULL,
    RARE_CLASSES,
    STRATEGIES,
    TARGETED,
    TARGETED_GUIDELINES,
    error_profile,
    recommend,
    stands_out,
)


def classes(*rates, n=1000):
    """Per-class rows: ``rates`` are (error rate) or (error rate, n)."""
    rows = []
    for i, rate in enumerate(rates):
        rate, size = rate if isinstance(rate, tuple) else (rate, n)
        rows.append({"label": f"c{i}", "n": size, "error_rate": rate})
    return rows


def people(error_rates, units):
    """Per-annotator rows from their error rates and unit counts."""
    errors = [r * n for r, n in zip(error_rates, units, strict=True)]
    total = sum(errors) or 1
    return [
        {"annotator": i + 1, "n": n, "accuracy": 1 - r, "error_share": e / total}
        for i, (r, n, e) in enumerate(zip(error_rates, units, errors, strict=True))
    ]


def overall(rows):
    return sum(c["n"] * c["error_rate"] for c in rows) / sum(c["n"] for c in rows)


def widespread(rate):
    """Every class and every annotator at ``rate``: nothing stands out."""
    return classes(*[rate] * 10), people([rate] * 10, [1000] * 10)


def two_bad_annotators(rate):
    """Annotators 1 and 2 at 4x ``rate`` (80 % of the errors with 20 % of the work), classes even."""
    return classes(*[rate] * 10), people([4 * rate, 4 * rate, *[rate / 4] * 8], [1000] * 10)


def with_rare_class(rate, rare_rate, n=200):
    """Four common classes of 1000 units and one rare class of ``n`` (4.8 %), overall ``rate``."""
    common = (rate * (4000 + n) - rare_rate * n) / 4000
    rows = classes(*[(common, 1000)] * 4, (rare_rate, n))
    return rows, people([rate] * 5, [(4000 + n) // 5] * 5)


def test_every_strategy_name_is_distinct_and_the_api_document_lists_them():
    assert len(set(STRATEGIES)) == 4 == len(STRATEGIES)
    document = yaml.safe_load((Path(__file__).parents[2] / "webhooks" / "openapi.yaml").read_text())
    schemas = [v for v in _walk(document) if isinstance(v, dict) and "recommendation" in v]
    (strategy,) = [s["recommendation"]["properties"]["strategy"] for s in schemas]
    assert strategy["enum"] == [*STRATEGIES, None]


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def test_low_random_error_gets_targeted_relabeling():
    rows = classes(*[0.05] * 10)
    plan = recommend(overall(rows), rows, people([0.05] * 10, [1000] * 10))
    assert plan["strategy"] == TARGETED and plan["classes"] == [] and plan["annotators"] == []
    assert plan["reasons"][0] == "overall label error 5.0% (below 8 %)"
    assert any("random" in r for r in plan["reasons"])
    assert plan["actions"] == ["relabel the flagged records"]
    assert error_profile(overall(rows), rows, people([0.05] * 10, [1000] * 10))["kinds"] == ["random"]


def test_concentrated_mid_error_gets_guideline_revision_and_requalification():
    rows = classes(0.35, 0.30, *[0.06] * 8)
    rate = overall(rows)
    assert 0.08 <= rate <= 0.15
    team = people([0.30, 0.28, *[0.07] * 8], [1000] * 10)
    plan = recommend(rate, rows, team)
    assert plan["strategy"] == TARGETED_GUIDELINES
    assert plan["classes"] == ["c0", "c1"] and plan["annotators"] == [1, 2]
    assert "revise the guideline for: c0, c1" in plan["actions"]
    assert any(a.startswith("requalify annotators: 1, 2") for a in plan["actions"])
    profile = error_profile(rate, rows, team)
    assert profile["primary"] == "systematic" and profile["concentrated"]


def test_reference_case_figures_are_named_in_the_reasons():
    """DOMAIN.md's warehouse case: 12.4 %, two bad classes, three of 22 annotators make 61 % of errors."""
    rows = [
        {"label": "damaged goods", "n": 600, "error_rate": 0.312},
        {"label": "empty shelf slot", "n": 800, "error_rate": 0.227},
        {"label": "box", "n": 8600, "error_rate": 0.1014},
    ]
    rate = overall(rows)
    assert rate == pytest.approx(0.124, abs=0.001)
    errors = rate * 10_000
    new = [0.61 * errors / 3 / 400] * 3  # three newcomers with 400 units each
    old = [0.39 * errors / 19 / 463] * 19
    team = people(new + old, [400] * 3 + [463] * 19)
    plan = recommend(rate, rows, team)
    assert plan["strategy"] == TARGETED_GUIDELINES and plan["annotators"] == [1, 2, 3]
    text = " ".join(plan["reasons"])
    assert "damaged goods 31.2%" in text and "empty shelf slot 22.7%" in text
    assert "annotators 1, 2, 3 cause 61% of all errors" in text


def test_high_widespread_error_gets_full_reannotation():
    rows, team = widespread(0.20)
    plan = recommend(0.20, rows, team)
    assert plan["strategy"] == FULL and "review the annotator pool" in plan["actions"]


def test_high_but_concentrated_error_still_fixes_the_sources():
    rows = classes(0.9, 0.9, *[0.04] * 8)
    assert overall(rows) > 0.15
    assert recommend(overall(rows), rows, people([0.2] * 10, [1000] * 10))["strategy"] == TARGETED_GUIDELINES


def test_mid_error_spread_evenly_stays_targeted_with_a_note():
    rows, team = widespread(0.10)
    plan = recommend(0.10, rows, team)
    assert plan["strategy"] == TARGETED and any("spread evenly" in r for r in plan["reasons"])
    assert plan["classes"] == [] and plan["annotators"] == []
    assert not any("stand out" in r and "no class" not in r for r in plan["reasons"])


@pytest.mark.parametrize(
    ("rate", "profile", "expected"),
    [
        (0.0799, two_bad_annotators, TARGETED),  # "rate < 8 %": 8 % itself is not
        (0.08, two_bad_annotators, TARGETED_GUIDELINES),
        (0.15, two_bad_annotators, TARGETED_GUIDELINES),
        (0.1501, two_bad_annotators, TARGETED_GUIDELINES),  # gap: above 15 % but concentrated
        (0.0799, widespread, TARGETED),
        (0.08, widespread, TARGETED),  # gap: 8-15 % spread evenly
        (0.15, widespread, TARGETED),
        (0.1501, widespread, FULL),  # "rate > 15 %": 15 % itself is not
    ],
)
def test_band_edges(rate, profile, expected):
    rows, team = profile(rate)
    assert recommend(rate, rows, team)["strategy"] == expected


def test_rare_classes_at_high_error_get_reannotated_alone():
    rows = classes((0.45, 150), (0.40, 150), *[(0.06, 1000)] * 9)
    rate = overall(rows)
    assert 0.05 <= rate <= 0.12 and all(c["n"] / sum(r["n"] for r in rows) <= 0.05 for c in rows[:2])
    plan = recommend(rate, rows, people([rate] * 5, [2000] * 5))
    assert plan["strategy"] == RARE_CLASSES and plan["classes"] == plan["rare_classes"] == ["c0", "c1"]
    assert plan["actions"] == ["re-annotate every record of: c0, c1"]
    assert any(r.endswith("at 20 %+ error: c0 45.0%, c1 40.0%") for r in plan["reasons"])


@pytest.mark.parametrize(
    ("rate", "rare_rate", "expected"),
    [
        (0.05, 0.20, RARE_CLASSES),  # both edges inclusive: 5-12 %, 20 %+
        (0.12, 0.20, RARE_CLASSES),
        (0.0499, 0.30, TARGETED),  # below the band the rare class is left to targeted relabeling
        (0.1201, 0.30, TARGETED),  # above it, one rare class holds too few of the errors to matter
        (0.07, 0.1999, TARGETED),
    ],
)
def test_rare_class_edges(rate, rare_rate, expected):
    rows, team = with_rare_class(rate, rare_rate)
    assert overall(rows) == pytest.approx(rate)
    plan = recommend(rate, rows, team)
    assert plan["strategy"] == expected
    assert plan["rare_classes"] == (["c4"] if rare_rate >= 0.20 else [])


def test_a_class_too_small_to_judge_or_not_rare_does_not_count_as_rare():
    rows, team = with_rare_class(0.07, 1.0, n=9)  # 9 of 9 wrong: too few units to judge
    plan = recommend(0.07, rows, team)
    assert plan["strategy"] == TARGETED and plan["rare_classes"] == [] and plan["classes"] == []
    common = [*classes(*[0.01] * 3, n=400), {"label": "common", "n": 400, "error_rate": 0.25}]
    assert overall(common) == pytest.approx(0.07)
    plan = recommend(0.07, common, people([0.07] * 4, [400] * 4))  # a quarter of the units is not rare
    assert plan["strategy"] == TARGETED and plan["classes"] == ["common"] and plan["rare_classes"] == []


def test_rare_classes_are_not_redone_alone_when_a_common_class_stands_out_too():
    rows = classes((0.45, 150), (0.30, 1000), *[(0.06, 1000)] * 8)
    rate = overall(rows)
    assert 0.08 <= rate <= 0.12
    plan = recommend(rate, rows, people([rate] * 5, [1830] * 5))
    assert plan["rare_classes"] == ["c0"] and plan["classes"] == ["c0", "c1"]
    assert plan["strategy"] == TARGETED_GUIDELINES


def test_boundary_share_adds_a_boundary_review():
    rows = classes(*[0.03] * 5)
    plan = recommend(0.03, rows, people([0.03] * 5, [1000] * 5), boundary_share=0.09)
    assert any("boundaries" in a for a in plan["actions"])
    profile = error_profile(0.03, rows, people([0.03] * 5, [1000] * 5), boundary_share=0.09)
    assert profile["primary"] == "boundary" and "boundary" in profile["kinds"]


@pytest.mark.parametrize(
    ("errors", "n", "rate", "expected"),
    [
        (30, 100, 0.10, True),  # 30 % against 10 %, clear
        (2, 10, 0.10, False),  # 20 % of 10: the interval reaches down past 10 %
        (9, 9, 0.07, False),  # all wrong, but fewer than 10 units
        (10, 10, 0.07, True),
        (140, 1000, 0.10, False),  # 14 %: not 1.5x the overall rate
        (0, 0, 0.10, False),
    ],
)
def test_stands_out_needs_size_and_evidence(errors, n, rate, expected):
    assert stands_out(errors, n, rate) is expected


def test_an_annotator_without_gold_units_is_never_flagged():
    rows = classes(0.2, 0.0)
    team = [*people([0.2, 0.0], [1000, 1000]), {"annotator": 3, "n": 0, "accuracy": None, "error_share": 0.0}]
    plan = recommend(0.1, rows, team)
    assert plan["annotators"] == [1] and error_profile(0.1, rows, team)["annotators"] == [1]


def test_no_errors_at_all():
    rows = classes(0.0, 0.0)
    plan = recommend(0.0, rows, people([0.0, 0.0], [1000, 1000]))
    assert plan["strategy"] == TARGETED
    assert error_profile(0.0, rows, people([0.0, 0.0], [1000, 1000]))["primary"] == "none"


@pytest.mark.parametrize("rate", [0.0, None])
def test_nothing_compared_gets_no_strategy(rate):
    plan = recommend(rate, [], [])
    assert plan["strategy"] is None and plan["reasons"] == ["nothing was compared with gold yet"]
