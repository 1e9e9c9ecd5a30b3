"""Confident learning: records whose label a model confidently disagrees with (cleanlab).

Label Studio keeps one prediction per model version and task, with one ``score`` for the whole
prediction, not a probability per class. For a single-choice ``Choices`` tag we therefore build the
per-class probabilities as: the predicted choice gets ``score``, and the rest ``1 - score`` is spread
uniformly over the other classes. A model that stores nothing better loses the ranking among the
runner-up classes, but confident learning needs mostly the probability of the *given* label, which
this keeps (see tests/unit/test_relabel_confident.py for the precision and recall it reaches).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def single_choice(result: Sequence[Mapping[str, Any]], tag: str) -> str | None:
    """The one choice a result list gives in control tag ``tag``, or None (none or several)."""
    chosen = [
        value
        for item in result
        if item.get("from_name") == tag and isinstance(item.get("value"), Mapping)
        for value in item["value"].get("choices") or []
    ]
    return chosen[0] if len(chosen) == 1 and isinstance(chosen[0], str) else None


def prediction_probabilities(
    prediction: Mapping[str, Any], tag: str, classes: Sequence[str]
) -> NDArray[np.float64] | None:
    """Per-class probabilities of one Label Studio prediction (see the module docstring).

    Returns None when the prediction has no score or no single known choice in ``tag``.

    Examples
    --------
    >>> p = {"score": 0.7, "result": [{"from_name": "c", "value": {"choices": ["b"]}}]}
    >>> prediction_probabilities(p, "c", ["a", "b", "d"]).round(2).tolist()
    [0.15, 0.7, 0.15]
    """
    score = prediction.get("score")
    top = single_choice(prediction.get("result") or [], tag)
    if score is None or top is None or top not in classes or len(classes) < 2:
        return None
    score = min(max(float(score), 0.0), 1.0)
    probs = np.full(len(classes), (1.0 - score) / (len(classes) - 1))
    probs[list(classes).index(top)] = score
    return probs


def find_label_suspects(labels: Sequence[int], pred_probs: NDArray[np.float64]) -> list[int]:
    """Indices of the examples cleanlab's ``find_label_issues`` flags, most suspect first.

    ``labels[i]`` is the class index given to example ``i``; ``pred_probs[i]`` the model's
    probabilities over the classes. Fewer than two examples of some class are fine (cleanlab
    needs at least one; classes nobody used are dropped first).
    """
    if len(labels) == 0:
        return []
    from cleanlab.filter import find_label_issues  # heavy import; only when a scan runs

    given = np.asarray(labels, dtype=int)
    used = np.unique(given)
    if len(used) < 2:
        return []
    remap = {int(c): i for i, c in enumerate(used)}  # cleanlab wants classes 0..K-1, all present
    probs = pred_probs[:, used]
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    issues = find_label_issues(
        np.array([remap[int(c)] for c in given]),
        probs,
        return_indices_ranked_by="self_confidence",
        n_jobs=1,
    )
    return [int(i) for i in issues]
