"""False-flag and detection rates of the requalification rule against naive rules, by simulation.

Run: ``.venv/bin/python bench/simulate_requalification.py [--runs 4000] [--answers 200] [--seed N]``.
Each simulated annotator answers ``--answers`` hidden gold items with a fixed true accuracy; a
rule's figure is the share of annotators it flags at some point, and the median / 95th percentile
of the number of gold answers before the flag. A last section starts annotators at 0.95 and drops
them to 0.75 halfway, and checks how close ``decline_started_at`` lands to the real change.
"""

from __future__ import annotations

import argparse

import numpy as np

from plugin.quality.decision import THRESHOLD_PRESETS, RequalificationPolicy, decline_start
from plugin.quality.simulate import RULES, first_flags, flagged_before, simulate_outcomes, summarize_flags

ACCURACIES = (0.95, 0.92, 0.90, 0.85, 0.80, 0.60)


def cell(first: np.ndarray) -> str:
    s = summarize_flags(first)
    if not s.flag_rate:
        return f"{'0.0%':>7} {'':>9}"
    return f"{s.flag_rate:>7.1%} {s.median_answers:>4.0f}/{s.p95_answers:<4.0f}"


def table(policy: RequalificationPolicy, runs: int, answers: int, seed: int) -> None:
    print(
        f"\nthreshold {policy.threshold}, window {policy.window}, min {policy.min_answers} answers, "
        f"{answers} gold answers x {runs} runs: flagged share, median/p95 answers to flag"
    )
    print(f"{'true accuracy':<14}" + "".join(f"{name:>23}" for name in RULES))
    for i, p in enumerate(ACCURACIES):
        # Same error rates relative to the allowed one as at threshold 0.90.
        p_true = round(1 - (1 - p) * (1 - policy.threshold) / 0.10, 3)
        correct = simulate_outcomes(np.full(answers, p_true), n_runs=runs, rng=[seed, i])
        row = "".join(f"{cell(first_flags(rule(correct, policy))):>23}" for rule in RULES.values())
        print(f"{p_true:<14.3f}{row}")


def decline(policy: RequalificationPolicy, runs: int, answers: int, seed: int) -> None:
    change = answers // 2
    p = np.where(np.arange(answers) < change, 0.95, 0.75)
    correct = simulate_outcomes(p, n_runs=runs, rng=[seed, 99])
    print(f"\ndecline 0.95 -> 0.75 after answer {change}: flagged before / after (median, p95 delay)")
    for name, rule in RULES.items():
        first = first_flags(rule(correct, policy))
        s = summarize_flags(first, after=change)
        print(
            f"  {name:<24} {flagged_before(first, change):>6.1%} / {s.flag_rate:>6.1%} "
            f"({s.median_answers:.0f}, {s.p95_answers:.0f})"
        )
    first = first_flags(RULES["upper bound 99% (ours)"](correct, policy))
    errors = []
    for run in np.flatnonzero(first > change):
        end = first[run]
        start = max(0, end - policy.window)
        estimated = start + decline_start(correct[run, start:end], policy.threshold, policy.alternative)
        errors.append(estimated - change)
    q = np.percentile(errors, [5, 50, 95])
    spread = f"median {q[1]:.0f}, 90% within [{q[0]:.0f}, {q[2]:.0f}]"
    print(f"  decline_started_at - true change, in answers: {spread}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    policy = RequalificationPolicy()
    table(policy, args.runs, args.answers, args.seed)
    decline(policy, args.runs, args.answers, args.seed)
    for preset in ("safety_critical", "nlp"):
        preset_policy = RequalificationPolicy.from_preset(preset)
        print(f"\npreset {preset} ({THRESHOLD_PRESETS[preset]}): error rates scaled to the allowed one")
        table(preset_policy, args.runs, args.answers, args.seed)


if __name__ == "__main__":
    main()
