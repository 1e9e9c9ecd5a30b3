r"""An annotator's accuracy on hidden gold: rolling window, Wilson interval, per class, trend.

Pure functions over plain data. A gold answer counts as *correct* when its task verdict passed
(:attr:`plugin.scoring.TaskVerdict.passed`), so accuracy is a proportion of independent Bernoulli
trials and a binomial interval applies. The mean task score is reported beside it.

Why Wilson
----------
The Wilson score interval (Wilson, 1927) inverts the score test of a binomial proportion:

.. math::

    \frac{k + z^2/2}{n + z^2} \pm \frac{z}{n + z^2}\sqrt{\frac{k(n-k)}{n} + \frac{z^2}{4}},
    \qquad z = \Phi^{-1}\!\left(\tfrac{1 + c}{2}\right)

for :math:`k` correct answers out of :math:`n` at confidence :math:`c`. Brown, Cai & DasGupta
(2001, *Interval Estimation for a Binomial Proportion*) recommend it (with Jeffreys) for small
:math:`n`; unlike the Wald interval it is never degenerate at :math:`k = n` (10 of 10 gives
[0.72, 1] at 95%, not [1, 1]), it has a closed form that vectorizes without special functions, and
because it inverts the score test, "upper bound below the threshold" is exactly a one-sided score
test of "accuracy ≥ threshold" — the requalification rule (:mod:`plugin.quality.decision`) uses
that equivalence. Jeffreys would do as well; we keep one interval everywhere so the figures an
annotator sees and the figures the decision uses are the same kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from plugin.scoring.verdict import TaskVerdict


@dataclass(frozen=True)
class GoldAnswer:
    """One scored answer of one annotator on one hidden gold item.

    ``classes`` maps each class present in the gold result to whether the annotator identified
    every gold instance of it with the right label (geometry aside: a box of the right class drawn
    too tight still counts as the class identified; its task may fail on the boundary).
    """

    item_id: str
    answered_at: datetime
    score: float
    passed: bool
    classes: Mapping[str, bool] = field(default_factory=dict)


def gold_answer_from_verdict(item_id: str, answered_at: datetime, verdict: TaskVerdict) -> GoldAnswer:
    """Condense a task verdict on a gold item into a :class:`GoldAnswer`.

    Per class: right when every gold outcome of that class was annotated with that class.
    Classes of different control tags that share a name are merged; spurious annotations (a class
    not in gold) do not make a class appear.

    Examples
    --------
    >>> from plugin.scoring import ClassOutcome, TagVerdict, TaskVerdict
    >>> tag = TagVerdict("box", "rectanglelabels", 0.5, False, 0.9,
    ...                  outcomes=(ClassOutcome("box", "car", "car"), ClassOutcome("box", "van", "car"),
    ...                            ClassOutcome("box", None, "bus")))
    >>> verdict = TaskVerdict(0.5, False, 0.9, {"box": tag})
    >>> answer = gold_answer_from_verdict("g1", datetime(2024, 1, 1), verdict)
    >>> answer.passed, dict(answer.classes)
    (False, {'car': True, 'van': False})
    """
    classes: dict[str, bool] = {}
    for outcome in verdict.outcomes:
        if outcome.gold is not None:
            classes[outcome.gold] = classes.get(outcome.gold, True) and outcome.pred == outcome.gold
    return GoldAnswer(item_id, answered_at, float(verdict.score), bool(verdict.passed), classes)


def z_value(confidence_level: float) -> float:
    """Two-sided normal quantile :math:`\\Phi^{-1}((1 + c)/2)` of confidence level ``c``."""
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    return float(norm.ppf(0.5 + confidence_level / 2.0))


def wilson_interval(
    successes: ArrayLike, n: ArrayLike, *, confidence_level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Wilson score interval of a binomial proportion, elementwise.

    Parameters
    ----------
    successes, n : array-like of int
        Number of correct answers and of answers (broadcast together); ``0 <= successes <= n``.
    confidence_level : float
        Two-sided coverage :math:`c`; each tail holds :math:`(1 - c)/2`.

    Returns
    -------
    lower, upper : ndarray of float
        Bounds in [0, 1]. Where ``n == 0`` (no evidence) the interval is the whole [0, 1].

    Examples
    --------
    >>> lower, upper = wilson_interval([10, 45, 0], [10, 50, 0])
    >>> lower.round(3).tolist(), upper.round(3).tolist()
    ([0.722, 0.786, 0.0], [1.0, 0.957, 1.0])
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > m):
        raise ValueError("successes must lie in [0, n]")
    z2 = z_value(confidence_level) ** 2
    safe = np.where(m > 0, m, 1.0)
    center = (k + z2 / 2.0) / (safe + z2)
    half = np.sqrt(z2) / (safe + z2) * np.sqrt(k * (safe - k) / safe + z2 / 4.0)
    lower = np.where(m > 0, np.clip(center - half, 0.0, 1.0), 0.0)
    upper = np.where(m > 0, np.clip(center + half, 0.0, 1.0), 1.0)
    return lower, upper


def window_counts(correct: ArrayLike, window: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Correct answers and answers in the rolling window ending at each answer, along the last axis.

    Parameters
    ----------
    correct : array-like of bool, shape (..., n_answers)
        Outcomes in chronological order (leading axes: independent annotators or simulation runs).
    window : int
        Window length; the first ``window - 1`` windows are shorter.

    Returns
    -------
    successes, n : ndarray of int, shape (..., n_answers)
        ``successes[..., t]`` counts correct answers among answers ``max(0, t - window + 1) .. t``.

    Examples
    --------
    >>> k, n = window_counts([1, 0, 1, 1], window=2)
    >>> k.tolist(), n.tolist()
    ([1, 1, 1, 2], [1, 2, 2, 2])
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    x = np.asarray(correct, dtype=np.int64)
    csum = np.concatenate([np.zeros(x.shape[:-1] + (1,), np.int64), np.cumsum(x, axis=-1)], axis=-1)
    end = np.arange(1, x.shape[-1] + 1)
    start = np.maximum(end - window, 0)
    return csum[..., end] - csum[..., start], end - start


@dataclass(frozen=True)
class ProportionEstimate:
    """A proportion with its interval; ``accuracy`` is NaN when ``n == 0`` (interval [0, 1])."""

    accuracy: float
    lower: float
    upper: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes ``None``."""
        return {
            "accuracy": None if np.isnan(self.accuracy) else self.accuracy,
            "lower": self.lower,
            "upper": self.upper,
            "n": self.n,
        }


def estimate_proportion(correct: ArrayLike, *, confidence_level: float = 0.95) -> ProportionEstimate:
    """Point estimate and Wilson interval of the share of true values in ``correct``."""
    x = np.asarray(correct, dtype=bool)
    k, n = int(x.sum()), int(x.size)
    lower, upper = wilson_interval(k, n, confidence_level=confidence_level)
    return ProportionEstimate(k / n if n else float("nan"), float(lower), float(upper), n)


def accuracy_trend(correct: ArrayLike) -> float:
    r"""Accuracy of the later half of a window minus that of the earlier half.

    .. math:: \mathrm{trend} = \bar x_{\text{last } h} - \bar x_{\text{first } h},
              \qquad h = \lfloor n/2 \rfloor

    (the middle answer of an odd window is left out). Positive: improving; negative: declining;
    NaN with fewer than 2 answers. A difference of halves rather than a regression slope: it reads
    as accuracy points, and on 0/1 data it carries the same sign as the slope would on most windows.

    Examples
    --------
    >>> accuracy_trend([1, 1, 1, 1, 0, 1, 0, 0])
    -0.75
    """
    x = np.asarray(correct, dtype=float)
    half = x.size // 2
    if half == 0:
        return float("nan")
    return float(x[-half:].mean() - x[:half].mean())


@dataclass(frozen=True)
class AnnotatorAccuracy:
    """Accuracy of one annotator on their last ``window`` gold answers.

    ``per_class`` holds, for every class present in the gold of at least one window answer, the
    share of those answers where the annotator identified that class. ``window_start`` and
    ``window_end`` are the times of the first and last answer in the window (``None`` if empty).
    """

    accuracy: float
    lower: float
    upper: float
    n: int
    correct: int
    mean_score: float
    trend: float
    confidence_level: float
    per_class: Mapping[str, ProportionEstimate]
    window_start: datetime | None
    window_end: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API: NaN becomes ``None``, times ISO 8601 strings."""

        def clean(x: float) -> float | None:
            return None if np.isnan(x) else x

        return {
            "accuracy": clean(self.accuracy),
            "lower": self.lower,
            "upper": self.upper,
            "n": self.n,
            "correct": self.correct,
            "mean_score": clean(self.mean_score),
            "trend": clean(self.trend),
            "confidence_level": self.confidence_level,
            "per_class": {label: est.to_dict() for label, est in self.per_class.items()},
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
        }


def class_outcome_table(
    answers: Sequence[GoldAnswer],
) -> tuple[list[str], NDArray[np.bool_], NDArray[np.bool_]]:
    """Answers × classes: ``(labels, present, right)``; ``right`` is False where not present."""
    labels = sorted({label for a in answers for label in a.classes})
    column = {label: j for j, label in enumerate(labels)}
    present = np.zeros((len(answers), len(labels)), dtype=bool)
    right = np.zeros_like(present)
    for i, answer in enumerate(answers):
        for label, ok in answer.classes.items():
            present[i, column[label]] = True
            right[i, column[label]] = ok
    return labels, present, right


def measure_accuracy(
    answers: Sequence[GoldAnswer], *, window: int = 50, confidence_level: float = 0.95
) -> AnnotatorAccuracy:
    """Rolling-window accuracy of one annotator, overall and per class, with Wilson intervals.

    Parameters
    ----------
    answers : sequence of GoldAnswer
        The annotator's gold answers in chronological order (only the last ``window`` are used).
    window : int
        Number of most recent gold answers in the window.
    confidence_level : float
        Coverage of every interval.

    Returns
    -------
    AnnotatorAccuracy
        With ``n == 0``: accuracy, mean score and trend NaN, interval [0, 1], no classes.

    Examples
    --------
    >>> t = datetime(2024, 1, 1)
    >>> answers = [GoldAnswer(str(i), t, 1.0, True, {"cat": True}) for i in range(9)]
    >>> answers.append(GoldAnswer("9", t, 0.0, False, {"dog": False}))
    >>> acc = measure_accuracy(answers)
    >>> acc.accuracy, round(acc.lower, 3), acc.per_class["dog"].n, round(acc.trend, 2)
    (0.9, 0.596, 1, -0.2)
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    recent = list(answers[-window:])
    passed = np.array([a.passed for a in recent], dtype=bool)
    overall = estimate_proportion(passed, confidence_level=confidence_level)
    labels, present, right = class_outcome_table(recent)
    k, n = right.sum(axis=0), present.sum(axis=0)
    lower, upper = wilson_interval(k, n, confidence_level=confidence_level)
    per_class = {
        label: ProportionEstimate(float(k[j] / n[j]), float(lower[j]), float(upper[j]), int(n[j]))
        for j, label in enumerate(labels)
    }
    scores = np.array([a.score for a in recent], dtype=float)
    return AnnotatorAccuracy(
        accuracy=overall.accuracy,
        lower=overall.lower,
        upper=overall.upper,
        n=overall.n,
        correct=int(passed.sum()),
        mean_score=float(scores.mean()) if scores.size else float("nan"),
        trend=accuracy_trend(passed),
        confidence_level=confidence_level,
        per_class=per_class,
        window_start=recent[0].answered_at if recent else None,
        window_end=recent[-1].answered_at if recent else None,
    )
