"""Thresholds and tolerances of the scoring engine, per project and per control tag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ScoringSettings:
    """How strictly annotations are compared with gold. Defaults follow the QA practice (DOMAIN.md).

    Attributes
    ----------
    pass_threshold : float
        A tag (and a task) passes when its score is at least this (0.90: general NLP practice;
        safety-critical projects use 0.95).
    match_iou : float
        Minimum IoU (keypoint similarity for keypoints) for a region to match a gold region.
    boundary_iou : float
        A matched region with the right label but IoU below this is a ``boundary`` discrepancy.
    span_match_f1 : float
        Minimum character F1 (Dice) for a text span to match a gold span.
    span_boundary_f1 : float
        A matched span with the right label but character F1 below this is a ``boundary`` discrepancy.
    keypoint_sigma : float
        Distance scale of keypoint similarity, as a fraction of the image diagonal.
    number_tolerance, rating_tolerance : float
        Largest absolute difference still counted as agreement for ``Number`` / ``Rating``.
    datetime_tolerance_s : float
        Largest difference in seconds still counted as agreement for ``DateTime``.
    text_case_sensitive : bool
        Whether ``TextArea`` comparison keeps case (whitespace is always normalized).
    weight : float
        Weight of a tag in the task score.
    per_tag : Mapping[str, Mapping[str, Any]]
        Overrides of the fields above by control tag name, e.g. ``{"bbox": {"boundary_iou": 0.7}}``.
    """

    pass_threshold: float = 0.90
    match_iou: float = 0.5
    boundary_iou: float = 0.85
    span_match_f1: float = 0.5
    span_boundary_f1: float = 0.90
    keypoint_sigma: float = 0.025
    number_tolerance: float = 0.0
    rating_tolerance: float = 0.0
    datetime_tolerance_s: float = 0.0
    text_case_sensitive: bool = False
    weight: float = 1.0
    per_tag: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("pass_threshold", "match_iou", "boundary_iou", "span_match_f1", "span_boundary_f1"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.match_iou <= 0.0 or self.span_match_f1 <= 0.0:
            raise ValueError("match thresholds must be > 0 (a match needs some overlap)")
        if min(self.keypoint_sigma, self.weight) <= 0.0:
            raise ValueError("keypoint_sigma and weight must be > 0")
        if min(self.number_tolerance, self.rating_tolerance, self.datetime_tolerance_s) < 0.0:
            raise ValueError("tolerances must be >= 0")
        known = {f.name for f in fields(self)} - {"per_tag"}
        for tag, overrides in self.per_tag.items():
            unknown = set(overrides) - known
            if unknown:
                raise ValueError(f"unknown scoring settings for tag {tag!r}: {sorted(unknown)}")
        object.__setattr__(self, "per_tag", MappingProxyType({k: dict(v) for k, v in self.per_tag.items()}))

    def for_tag(self, name: str) -> ScoringSettings:
        """Settings for one control tag: the project's, with that tag's overrides applied.

        Examples
        --------
        >>> settings = ScoringSettings(per_tag={"bbox": {"boundary_iou": 0.7}})
        >>> settings.for_tag("bbox").boundary_iou, settings.for_tag("label").boundary_iou
        (0.7, 0.85)
        """
        overrides = self.per_tag.get(name)
        return replace(self, per_tag={}, **overrides) if overrides else self
