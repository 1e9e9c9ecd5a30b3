"""DOMAIN.md's "Choosing the fix" table as :func:`plugin.offline.plan.recommend`; the error profile."""

import pytest

from plugin.offline.plan import (
    FULL,
    RARE_CLASSES,
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


def test_low_random_error_gets_targeted_relabeling():
    rows = classes(*[0.05] * 10)
    plan = recommend(overall(rows), rows, people([0.05] * 10, [1000] * 10))
    assert plan["strategy"] == TARGETED and plan["classes"] == [] and plan["annotators"] == []
    assert any("random" in r for r in plan["reasons"])
    assert error_profile(overall(rows), rows, people([0.05] * 10, [1000] * 10))["kinds"] == ["random"]


def test_concentrated_mid_error_gets_guideline_revision_and_requalification():
    rows = classes(0.35, 0.30, *[0.06] * 8)
    rate = overall(rows)
    assert 0.08 <= rate <= 0.15
    team = people([0.30, 0.28, *[0.07] * 8], [1000] * 10)
    plan = recommend(rate, rows, team)
    assert plan["strategy"] == TARGETED_GUIDELINES
    assert plan["classes"] == ["c0", "c1"] and plan["annotators"] == [1, 2]
    assert any(a.startswith("requalify annotators: 1, 2") for a in plan["actions"])
    profile = error_profile(rate, rows, team)
    assert profile["primary"] == "systematic" and profile["concentrated"]


def test_high_widespread_error_gets_full_reannotation():
    rows = classes(*[0.20] * 10)
    plan = recommend(0.20, rows, people([0.2] * 10, [1000] * 10))
    assert plan["strategy"] == FULL


def test_high_but_concentrated_error_still_fixes_the_sources():
    rows = classes(0.9, 0.9, *[0.04] * 8)
    assert overall(rows) > 0.15
    assert recommend(overall(rows), rows, people([0.2] * 10, [1000] * 10))["strategy"] == TARGETED_GUIDELINES


def test_rare_classes_at_high_error_get_reannotated_alone():
    rows = classes((0.45, 150), (0.40, 150), *[(0.06, 1000)] * 9)
    rate = overall(rows)
    assert 0.05 <= rate <= 0.12 and all(c["n"] / sum(r["n"] for r in rows) <= 0.05 for c in rows[:2])
    plan = recommend(rate, rows, people([rate] * 5, [2000] * 5))
    assert plan["strategy"] == RARE_CLASSES and plan["classes"] == ["c0", "c1"]


def test_mid_error_spread_evenly_stays_targeted_with_a_note():
    rows = classes(*[0.10] * 10)
    plan = recommend(0.10, rows, people([0.10] * 10, [1000] * 10))
    assert plan["strategy"] == TARGETED and any("spread evenly" in r for r in plan["reasons"])


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
        (140, 1000, 0.10, False),  # 14 %: not 1.5x the overall rate
        (0, 0, 0.10, False),
    ],
)
def test_stands_out_needs_size_and_evidence(errors, n, rate, expected):
    assert stands_out(errors, n, rate) is expected


def test_no_errors_at_all():
    rows = classes(0.0, 0.0)
    plan = recommend(0.0, rows, people([0.0, 0.0], [1000, 1000]))
    assert plan["strategy"] == TARGETED
    assert error_profile(0.0, rows, people([0.0, 0.0], [1000, 1000]))["primary"] == "none"


def test_nothing_compared_gets_no_strategy():
    plan = recommend(0.0, [], [])
    assert plan["strategy"] is None and plan["reasons"] == ["nothing was compared with gold yet"]
