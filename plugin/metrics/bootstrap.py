"""Bootstrap confidence intervals for any agreement statistic over items."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike


class ConfidenceInterval(NamedTuple):
    """Percentile bootstrap interval around a point estimate."""

    estimate: float
    low: float
    high: float


def bootstrap_ci(
    statistic: Callable[..., float],
    *data: ArrayLike,
    rng: np.random.Generator | int,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
) -> ConfidenceInterval:
    r"""Percentile bootstrap confidence interval of ``statistic(*data)``, resampling items.

    Each resample draws :math:`n` items with replacement (the same items from every array, so
    paired ratings stay paired) and recomputes the statistic; the interval is the
    :math:`(1 - c)/2` and :math:`(1 + c)/2` quantiles of the resampled values, NaN resamples left out.

    Parameters
    ----------
    statistic : callable
        Called as ``statistic(*resampled)``; returns a float.
    *data : array-like
        Arrays whose first axis is the item (e.g. the two raters' labels; for
        :func:`~plugin.metrics.krippendorff_alpha` pass ``data.T`` and transpose back).
    rng : numpy.random.Generator or int
        Source of randomness (or its seed), so that a run can be repeated exactly.
    n_resamples : int
        Number of bootstrap resamples.
    confidence_level : float
        Coverage :math:`c` of the interval.

    Returns
    -------
    ConfidenceInterval
        ``(estimate, low, high)``; ``low`` and ``high`` are NaN if every resample was NaN.

    Examples
    --------
    >>> from plugin.metrics import cohen_kappa_score
    >>> a = [0, 1, 1, 0, 1, 0, 1, 1]
    >>> b = [0, 1, 0, 0, 1, 0, 1, 1]
    >>> ci = bootstrap_ci(cohen_kappa_score, a, b, rng=0, n_resamples=200)
    >>> round(ci.estimate, 3), ci.low <= ci.estimate <= ci.high
    (0.75, True)
    """
    arrays = [np.asarray(x) for x in data]
    if not arrays or len({len(x) for x in arrays}) != 1:
        raise ValueError("bootstrap_ci needs at least one array, all with the same number of items")
    generator = np.random.default_rng(rng)
    n = len(arrays[0])
    draws = generator.integers(0, n, size=(n_resamples, n))
    values = np.array([statistic(*(x[idx] for x in arrays)) for idx in draws], dtype=float)
    values = values[~np.isnan(values)]
    tail = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail]) if values.size else (np.nan, np.nan)
    return ConfidenceInterval(float(statistic(*arrays)), float(low), float(high))
