"""Agreement and overlap metrics, cross-checked against the reference libraries.

Pure functions over arrays, with scikit-learn-like signatures: data positional, options
keyword-only. :func:`score_task` (Label Studio results against gold) is re-exported from
:mod:`plugin.scoring` for convenience.
"""

from plugin.metrics.alpha import krippendorff_alpha
from plugin.metrics.bootstrap import ConfidenceInterval, bootstrap_ci
from plugin.metrics.brush import decode_brush_mask
from plugin.metrics.geometry import (
    batched_box_iou,
    box_iou_matrix,
    keypoint_similarity_matrix,
    mask_iou_matrix,
    polygon_iou_matrix,
    rectangle_corners,
)
from plugin.metrics.kappa import (
    category_kappa_scores,
    cohen_kappa_score,
    confusion_table,
    count_ratings,
    fleiss_kappa_score,
    kappa_from_table,
    raw_agreement,
)
from plugin.metrics.matching import batched_match_regions, match_regions
from plugin.metrics.spans import (
    SpanScores,
    exact_span_f1_score,
    score_span_batch,
    span_f1_score,
    span_overlap_matrix,
)

__all__ = [
    "ConfidenceInterval",
    "SpanScores",
    "batched_box_iou",
    "batched_match_regions",
    "bootstrap_ci",
    "box_iou_matrix",
    "category_kappa_scores",
    "cohen_kappa_score",
    "confusion_table",
    "count_ratings",
    "decode_brush_mask",
    "exact_span_f1_score",
    "fleiss_kappa_score",
    "kappa_from_table",
    "keypoint_similarity_matrix",
    "krippendorff_alpha",
    "mask_iou_matrix",
    "match_regions",
    "polygon_iou_matrix",
    "raw_agreement",
    "rectangle_corners",
    "score_span_batch",
    "score_task",
    "span_f1_score",
    "span_overlap_matrix",
]


def __getattr__(name: str):
    # score_task lives in plugin.scoring, which itself imports these metrics: resolve it lazily.
    if name == "score_task":
        from plugin.scoring import score_task

        return score_task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
