"""Simulated annotators for measuring requalification rules: false flags and time to flag.

Every rule is a function ``(correct, policy) -> mask`` over outcomes of shape
``(n_runs, n_answers)`` that is True wherever the rule would flag; :data:`RULES` holds ours
(:func:`plugin.quality.decision.flag_mask`, the very function :func:`decide_status` uses) and the
naive ones it is compared with. Randomness comes in as a generator or seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from plugin.quality.accuracy import wilson_interval, window_counts
from plugin.quality.decision import RequalificationPolicy, flag_mask

Rule = Callable[[NDArray[np.bool_], RequalificationPolicy], NDArray[np.bool_]]


def simulate_outcomes(
    true_accuracy: ArrayLike, *, n_runs: int, rng: np.random.Generator | int
) -> NDArray[np.bool_]:
    """Bernoulli gold outcomes, shape ``(n_runs, n_answers)``.

    ``true_accuracy`` is one accuracy per answer (shape ``(n_answers,)``: a decline is a step in it).
    """
    p = np.asarray(true_accuracy, dtype=float)
    return np.random.default_rng(rng).random((n_runs, p.size)) < p


def _after_minimum(mask: NDArray[np.bool_], policy: RequalificationPolicy) -> NDArray[np.bool_]:
    return mask & (np.arange(1, mask.shape[-1] + 1) >= policy.min_answers)


def raw_window_rule(correct: NDArray[np.bool_], policy: RequalificationPolicy) -> NDArray[np.bool_]:
    """Naive: the window's percentage is below the threshold."""
    k, n = window_counts(correct, policy.window)
    return _after_minimum(k < policy.threshold * n, policy)


def lower_bound_rule(correct: NDArray[np.bool_], policy: RequalificationPolicy) -> NDArray[np.bool_]:
    """Naive: the lower bound of the shown interval is below the threshold."""
    k, n = window_counts(correct, policy.window)
    lower, _ = wilson_interval(k, n, confidence_level=policy.confidence_level)
    return _after_minimum(lower < policy.threshold, policy)


def upper_bound_95_rule(correct: NDArray[np.bool_], policy: RequalificationPolicy) -> NDArray[np.bool_]:
    """Our rule with a per-look confidence of 95% instead of 99%."""
    return flag_mask(correct, replace(policy, decision_confidence=0.95))


def cusum_rule(
    correct: NDArray[np.bool_], policy: RequalificationPolicy, *, alpha: float = 0.02, beta: float = 0.10
) -> NDArray[np.bool_]:
    r"""Alternative: Page's CUSUM (Wald's SPRT restarted at every acceptance) of :math:`p_0` vs :math:`p_1`.

    :math:`S_t = \max(0, S_{t-1} + \ell_t)` with the log-likelihood ratio :math:`\ell_t` of
    ``policy.alternative`` against the threshold; flags at :math:`S_t \ge \log((1 - \beta)/\alpha)`.
    """
    p0, p1 = policy.threshold, policy.alternative
    llr = np.where(correct, np.log(p1 / p0), np.log((1 - p1) / (1 - p0)))
    csum = np.cumsum(llr, axis=-1)
    statistic = csum - np.minimum(np.minimum.accumulate(csum, axis=-1), 0.0)
    return _after_minimum(statistic >= np.log((1 - beta) / alpha), policy)


RULES: dict[str, Rule] = {
    "upper bound 99% (ours)": flag_mask,
    "upper bound 95%": upper_bound_95_rule,
    "CUSUM/SPRT a=.02": cusum_rule,
    "raw window %": raw_window_rule,
    "lower bound 95%": lower_bound_rule,
}


def first_flags(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Number of answers (1-based) at the first flag of each run, -1 where never flagged."""
    flagged = mask.any(axis=-1)
    return np.where(flagged, mask.argmax(axis=-1) + 1, -1)


@dataclass(frozen=True)
class FlagSummary:
    """How often a rule flagged within the simulated careers, and after how many answers."""

    flag_rate: float
    median_answers: float
    p95_answers: float
    n_runs: int


def summarize_flags(first: NDArray[np.int64], *, after: int = 0) -> FlagSummary:
    """Share of runs flagged after answer ``after`` and the answers (counted from it) to the flag.

    Runs flagged at or before ``after`` count as not flagged here (see ``flagged_before``).
    """
    late = first[first > after] - after
    nan = float("nan")
    return FlagSummary(
        flag_rate=float(late.size / first.size),
        median_answers=float(np.median(late)) if late.size else nan,
        p95_answers=float(np.percentile(late, 95)) if late.size else nan,
        n_runs=int(first.size),
    )


def flagged_before(first: NDArray[np.int64], answer: int) -> float:
    """Share of runs flagged at or before ``answer`` (1-based)."""
    return float(np.mean((first > 0) & (first <= answer)))
