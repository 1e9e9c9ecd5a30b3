"""Annotator quality on hidden gold: accuracy with intervals, the requalification decision, the quiz.

Data flows one way: scored gold answers (:class:`GoldAnswer`, built from a task verdict) →
:func:`measure_accuracy` (what the API shows) and :func:`decide_status` (ok / watch / flagged,
with evidence) → the caller's state machine (onboarding, requalifying) and :func:`judge_quiz`.
"""

from plugin.quality.accuracy import (
    AnnotatorAccuracy,
    GoldAnswer,
    ProportionEstimate,
    accuracy_trend,
    estimate_proportion,
    gold_answer_from_verdict,
    measure_accuracy,
    wilson_interval,
    window_counts,
)
from plugin.quality.decision import (
    THRESHOLD_PRESETS,
    Decision,
    QuizResult,
    RequalificationPolicy,
    decide_status,
    decline_start,
    flag_mask,
    judge_quiz,
)

__all__ = [
    "THRESHOLD_PRESETS",
    "AnnotatorAccuracy",
    "Decision",
    "GoldAnswer",
    "ProportionEstimate",
    "QuizResult",
    "RequalificationPolicy",
    "accuracy_trend",
    "decide_status",
    "decline_start",
    "estimate_proportion",
    "flag_mask",
    "gold_answer_from_verdict",
    "judge_quiz",
    "measure_accuracy",
    "wilson_interval",
    "window_counts",
]
