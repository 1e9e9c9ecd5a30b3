"""Compare Label Studio annotations with gold, tag by tag, and combine the results into verdicts."""

from plugin.scoring.settings import ScoringSettings
from plugin.scoring.task import pairwise_region_f1, score_task
from plugin.scoring.verdict import (
    ClassOutcome,
    ClassTally,
    Discrepancy,
    TagVerdict,
    TaskVerdict,
    class_breakdown,
)

__all__ = [
    "ClassOutcome",
    "ClassTally",
    "Discrepancy",
    "ScoringSettings",
    "TagVerdict",
    "TaskVerdict",
    "class_breakdown",
    "pairwise_region_f1",
    "score_task",
]
