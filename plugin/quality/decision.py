r"""Who needs requalification: ok / watch / flagged from gold evidence, and the quiz verdict.

The rule
--------
After every gold answer (counting from the last reset: start of work, or a passed quiz), with at
least ``min_answers`` answers, look at the rolling window of the last ``window`` answers
(:math:`k` correct of :math:`n`) and compute the one-sided score statistic against the threshold
:math:`p_0`:

.. math::

    z = \frac{k - n p_0}{\sqrt{n\, p_0 (1 - p_0)}}

**flagged** as soon as :math:`z < -z_{(1+c)/2}` with decision confidence :math:`c` (default 0.99,
:math:`z_{0.995} = 2.576`). This is exactly "the upper bound of the Wilson interval at confidence
:math:`c` lies below the threshold" (the Wilson interval is the inversion of this test), so the
flag reads: *even the optimistic estimate of this annotator's accuracy on their last 50 gold items
is below 90%*. Otherwise **watch** when the window's point estimate :math:`k/n` is below
:math:`p_0`, else **ok**. Below ``min_answers`` nobody is flagged (watch may show).

A flag is an event, not a state of the window: the rule is checked at every answer since the
reset, and the first crossing is the flag, so deciding after each answer or once after a batch of
answers gives the same result. The caller then moves the annotator to ``requalifying`` and, once
the quiz is passed, passes the time of the pass as ``since`` so old evidence is not reused.

Why 99% and not 95%: the rule looks after every answer, so each look's 2.5% one-sided error adds
up over a working life; 99% per look keeps an annotator *above* the threshold (0.92 for 0.90)
from being flagged in more than about 5% of 200-answer careers while still catching a 0.60
annotator within 10–25 answers. Why not a raw percentage (flags half of the 0.95 annotators on a
bad day) or the lower bound (flags everyone at the first look: 10 of 10 has a lower bound of
0.72). Why not Page's CUSUM (Wald's SPRT between :math:`p_0` and :math:`p_0 - 0.1`, restarted at
each acceptance, :math:`\alpha = 0.02, \beta = 0.1`): it flags fewer annotators near the threshold,
but its fixed alternative under-weighs gross failure — it needs about 1.5× the answers to catch
0.80 and twice as many to catch 0.60 (flagged within 17 answers: 48% against our 89%), and an
annotator at 40% error must be stopped within the few gold items they see.

Simulation (``bench/simulate_requalification.py``: threshold 0.90, window 50, min 10 answers,
200 gold answers per annotator, 4,000 runs, seed 20240601) — share of annotators flagged, and
median / 95th-percentile number of gold answers before the flag:

=============  ================  ================  ================  ============  ===========
true accuracy  ours (99% upper)  95% upper bound   CUSUM/SPRT        raw window %  lower bound
=============  ================  ================  ================  ============  ===========
0.95           0.4%              1.9%              0.1%              49%           100% (10)
0.92           4.5%              14%               2.6%              90%           100% (10)
0.90           16%               35%               9.8%              98%           100% (10)
0.85           73% (71 / 182)    89% (47 / 171)    67% (95 / 185)    100% (11)     100% (10)
0.80           98% (38 / 137)    99.7% (21 / 102)  98% (57 / 145)    100% (10)     100% (10)
0.60           100% (10 / 26)    100% (10 / 19)    100% (18 / 34)    100% (10)     100% (10)
=============  ================  ================  ================  ============  ===========

A decline from 0.95 to 0.75 after 100 answers: ours flags 0.3% before the change and 97% after
it, a median 40 answers later; ``decline_started_at`` lands a median 3 answers after the true
change (90% within [-8, +44]). With the presets the figures are alike for the same error rates
relative to the allowed one (0.975 at ``safety_critical``: 1.3% flagged; 0.925 at ``nlp``: 0.1%).

``decline_started_at``
----------------------
The first answer of the window's suffix that most favours "accuracy :math:`p_1 = p_0 - \delta`"
over ":math:`p_0`" (the maximum-likelihood change point, Hinkley 1971):

.. math::

    s^* = \arg\max_s \sum_{i \ge s} \ell_i, \qquad
    \ell_i = \begin{cases} \log(p_1/p_0) & \text{correct} \\
                           \log\frac{1 - p_1}{1 - p_0} & \text{wrong} \end{cases}

with :math:`\delta = \min(1 - p_0, p_0/2)` by default (an error rate twice the allowed one),
searched within the window at the flag. It is a wrong answer (or the window's first answer if no
suffix favours the decline); work of the annotator from then on is suspect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from plugin.quality.accuracy import GoldAnswer, estimate_proportion, wilson_interval, window_counts, z_value

Status = Literal["ok", "watch", "flagged"]
QuizStatus = Literal["in_progress", "passed", "failed"]

#: Accuracy thresholds by project kind (DOMAIN.md: safety-critical 95%, general NLP 85–90%).
THRESHOLD_PRESETS: dict[str, float] = {"default": 0.90, "safety_critical": 0.95, "nlp": 0.85}


@dataclass(frozen=True)
class RequalificationPolicy:
    """A project's requalification settings (see the module docstring for the rule).

    ``confidence_level`` is the interval shown to people; ``decision_confidence`` the one the flag
    uses. ``delta`` sets the alternative :math:`p_1 = p_0 - \\delta` of the decline start (default
    ``min(1 - threshold, threshold / 2)``). ``quiz_pass_mark`` defaults to ``threshold``.
    """

    threshold: float = 0.90
    min_answers: int = 10
    window: int = 50
    confidence_level: float = 0.95
    decision_confidence: float = 0.99
    delta: float | None = None
    quiz_items: int = 10
    quiz_pass_mark: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if not 1 <= self.min_answers <= self.window:
            raise ValueError(f"need 1 <= min_answers <= window, got {self.min_answers}, {self.window}")
        if self.quiz_items < 1:
            raise ValueError(f"quiz_items must be at least 1, got {self.quiz_items}")
        if self.delta is not None and not 0.0 < self.delta < self.threshold:
            raise ValueError(f"delta must be in (0, threshold), got {self.delta}")
        z_value(self.confidence_level), z_value(self.decision_confidence)  # validate both

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> RequalificationPolicy:
        """Policy with the threshold of ``preset`` (``default``, ``safety_critical``, ``nlp``)."""
        if preset not in THRESHOLD_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(THRESHOLD_PRESETS)}")
        return replace(cls(threshold=THRESHOLD_PRESETS[preset]), **overrides)

    @property
    def alternative(self) -> float:
        """:math:`p_1`, the declined accuracy that ``decline_started_at`` tests against."""
        delta = self.delta if self.delta is not None else min(1.0 - self.threshold, self.threshold / 2.0)
        return self.threshold - delta

    @property
    def pass_mark(self) -> float:
        return self.threshold if self.quiz_pass_mark is None else self.quiz_pass_mark


def score_statistic(successes: ArrayLike, n: ArrayLike, threshold: float) -> NDArray[np.float64]:
    r"""One-sided score statistic :math:`z = (k - n p_0) / \sqrt{n p_0 (1 - p_0)}`, 0 where ``n == 0``."""
    k, m = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    return np.where(
        m > 0, (k - m * threshold) / np.sqrt(np.maximum(m, 1.0) * threshold * (1 - threshold)), 0.0
    )


def flag_mask(correct: ArrayLike, policy: RequalificationPolicy) -> NDArray[np.bool_]:
    """Where the flag rule holds, at every answer along the last axis (vectorized over runs).

    Parameters
    ----------
    correct : array-like of bool, shape (..., n_answers)
        Outcomes since the last reset, in order.
    policy : RequalificationPolicy

    Returns
    -------
    ndarray of bool, shape (..., n_answers)
        True at answer ``t`` when ``t + 1 >= min_answers`` and the window ending at ``t`` is
        conclusive. The first True is the flag.

    Examples
    --------
    >>> flag_mask([1] * 5 + [0] * 6, RequalificationPolicy()).nonzero()[0].tolist()
    [9, 10]
    """
    k, n = window_counts(correct, policy.window)
    z = score_statistic(k, n, policy.threshold)
    enough = np.arange(1, np.shape(k)[-1] + 1) >= policy.min_answers
    return (z < -z_value(policy.decision_confidence)) & enough


def decline_start(correct: ArrayLike, threshold: float, alternative: float) -> int:
    """Index of the first answer of the suffix with the largest log-likelihood ratio (p1 vs p0).

    Returns 0 when no suffix favours the decline (the whole window is then taken as suspect).

    Examples
    --------
    >>> decline_start([1] * 8 + [0] + [1] * 8 + [0, 0, 1, 0], 0.9, 0.8)
    17
    """
    x = np.asarray(correct, dtype=bool)
    llr = np.where(x, np.log(alternative / threshold), np.log((1 - alternative) / (1 - threshold)))
    suffix = np.cumsum(llr[::-1])[::-1]
    if suffix.size == 0 or suffix.max() <= 0:
        return 0
    return int(np.argmax(suffix))


@dataclass(frozen=True)
class Decision:
    """Status of one annotator with its evidence.

    When flagged, the evidence is that of the window at the flag (``flagged_at``); otherwise that
    of the current window. ``decline_started_at`` (flagged only): from then on their work is
    suspect. ``answers`` counts gold answers since the reset.
    """

    status: Status
    reason: str
    answers: int
    n: int
    correct: int
    accuracy: float
    lower: float
    upper: float
    confidence_level: float
    decision_upper: float
    decision_confidence: float
    z_score: float
    z_critical: float
    threshold: float
    min_answers: int
    window_start: datetime | None
    window_end: datetime | None
    flagged_at: datetime | None = None
    decline_started_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes ``None``, times ISO 8601 strings."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, float) and np.isnan(value):
                out[key] = None
        return out


def decide_status(
    answers: Sequence[GoldAnswer],
    *,
    policy: RequalificationPolicy | None = None,
    since: datetime | None = None,
) -> Decision:
    """Decide ``ok``, ``watch`` or ``flagged`` for one annotator from their gold answers.

    Parameters
    ----------
    answers : sequence of GoldAnswer
        The annotator's gold answers (regular hidden gold, not quiz items) in chronological order.
    policy : RequalificationPolicy, optional
        Threshold, window, minimum answers and confidences. Default: threshold 0.90.
    since : datetime, optional
        Time of the last reset (a passed requalification quiz); earlier answers are ignored.

    Returns
    -------
    Decision
        ``onboarding`` and ``requalifying`` are the caller's states and never returned.

    Examples
    --------
    >>> from datetime import timedelta
    >>> t0 = datetime(2024, 1, 1)
    >>> outcomes = [True] * 20 + [False, True, False, False, True] + [False] * 8
    >>> answers = [GoldAnswer(f"g{i}", t0 + timedelta(hours=i), float(ok), ok)
    ...            for i, ok in enumerate(outcomes)]
    >>> d = decide_status(answers)
    >>> d.status, d.n, d.correct, d.flagged_at - t0, d.decline_started_at - t0
    ('flagged', 30, 22, datetime.timedelta(days=1, seconds=18000), datetime.timedelta(seconds=72000))
    >>> decide_status(answers[:28]).status
    'watch'
    """
    policy = policy or RequalificationPolicy()
    recent = [a for a in answers if since is None or a.answered_at >= since]
    passed = np.array([a.passed for a in recent], dtype=bool)
    hits = np.flatnonzero(flag_mask(passed, policy))
    flagged = hits.size > 0
    end = int(hits[0]) if flagged else passed.size - 1
    start = max(0, end - policy.window + 1)
    window = passed[start : end + 1]
    shown = estimate_proportion(window, confidence_level=policy.confidence_level)
    correct = int(window.sum())
    _, decision_upper = wilson_interval(correct, shown.n, confidence_level=policy.decision_confidence)
    z = float(score_statistic(correct, shown.n, policy.threshold))
    if flagged:
        status: Status = "flagged"
        first_bad = start + decline_start(window, policy.threshold, policy.alternative)
        reason = (
            f"upper {policy.decision_confidence:.0%} bound {float(decision_upper):.3f} of accuracy "
            f"{shown.accuracy:.3f} on the last {shown.n} gold answers is below {policy.threshold}"
        )
    else:
        status = "watch" if shown.n and shown.accuracy < policy.threshold else "ok"
        reason = _unflagged_reason(status, shown.n, passed.size, policy)
    return Decision(
        status=status,
        reason=reason,
        answers=int(passed.size),
        n=shown.n,
        correct=correct,
        accuracy=shown.accuracy,
        lower=shown.lower,
        upper=shown.upper,
        confidence_level=policy.confidence_level,
        decision_upper=float(decision_upper),
        decision_confidence=policy.decision_confidence,
        z_score=z,
        z_critical=-z_value(policy.decision_confidence),
        threshold=policy.threshold,
        min_answers=policy.min_answers,
        window_start=recent[start].answered_at if recent else None,
        window_end=recent[end].answered_at if recent else None,
        flagged_at=recent[end].answered_at if flagged else None,
        decline_started_at=recent[first_bad].answered_at if flagged else None,
    )


def _unflagged_reason(status: Status, n: int, answers: int, policy: RequalificationPolicy) -> str:
    if answers < policy.min_answers:
        return f"{answers} of the {policy.min_answers} gold answers needed before any decision"
    if status == "watch":
        return f"accuracy below {policy.threshold} on the last {n} gold answers, not conclusive yet"
    return f"accuracy at or above {policy.threshold} on the last {n} gold answers"


@dataclass(frozen=True)
class QuizResult:
    """Outcome of a requalification quiz so far.

    ``status`` is ``passed`` or ``failed`` as soon as the remaining items cannot change it (9 of 10
    right with a 0.9 pass mark already passes; 2 wrong already fail), ``in_progress`` otherwise.
    """

    status: QuizStatus
    complete: bool
    correct: float
    answered: int
    n_items: int
    accuracy: float
    pass_mark: float


def judge_quiz(outcomes: ArrayLike, *, pass_mark: float = 0.90, n_items: int = 10) -> QuizResult:
    r"""Judge a requalification quiz of ``n_items`` gold items: passed when accuracy ≥ ``pass_mark``.

    .. math:: \mathrm{accuracy} = \frac{1}{K} \sum_{i=1}^{K} x_i

    Parameters
    ----------
    outcomes : array-like of shape (answered,)
        One per answered quiz item: True/1 passed, False/0 failed (fractional scores in [0, 1]
        count as given).
    pass_mark : float
        Accuracy needed to pass (the project threshold unless configured otherwise).
    n_items : int
        Quiz length :math:`K`.

    Returns
    -------
    QuizResult
        ``accuracy`` is over the answered items (NaN before the first).

    Examples
    --------
    >>> judge_quiz([1, 1, 0, 1, 0]).status
    'failed'
    >>> judge_quiz([1] * 9).status, judge_quiz([1] * 8).status
    ('passed', 'in_progress')
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    if x.size > n_items:
        raise ValueError(f"{x.size} outcomes for a quiz of {n_items} items")
    if np.any((x < 0) | (x > 1)):
        raise ValueError("quiz outcomes must lie in [0, 1]")
    correct = float(x.sum())
    eps = 1e-9  # 9/10 must pass a 0.9 mark despite float rounding
    status: QuizStatus = "in_progress"
    if correct / n_items >= pass_mark - eps:
        status = "passed"
    elif (correct + n_items - x.size) / n_items < pass_mark - eps:
        status = "failed"
    accuracy = correct / x.size if x.size else float("nan")
    return QuizResult(status, x.size == n_items, correct, int(x.size), n_items, accuracy, pass_mark)
