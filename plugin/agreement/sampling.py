"""Which tasks of a batch are double-annotated: a seeded random share. Pure."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np


def sample_size(n_tasks: int, rate: float) -> int:
    """Tasks to double-annotate in a batch of ``n_tasks``: ``rate · n`` rounded half up.

    Examples
    --------
    >>> sample_size(500, 0.10), sample_size(4, 0.10), sample_size(15, 0.10)
    (50, 0, 2)
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within [0, 1], got {rate}")
    # The epsilon keeps 0.1 * 500 (a hair above or below 50 in binary) at exactly 50.
    return min(n_tasks, int(math.floor(rate * n_tasks + 0.5 + 1e-9)))


def batch_seed(salt: str, project_id: int, task_ids: Iterable[int]) -> int:
    """A seed that is the same whenever the same batch is formed again (a replayed event), and that
    annotators cannot work out without ``salt`` (the service's webhook secret)."""
    ids = sorted(task_ids)
    text = f"{salt}:{project_id}:{ids[0] if ids else 0}:{len(ids)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1  # fits a signed BIGINT


def choose_sample(task_ids: Iterable[int], rate: float, *, seed: int) -> list[int]:
    """A uniformly random ``sample_size(n, rate)`` of the tasks, without replacement, sorted.

    The choice depends only on the set of ids and the seed (not on their order).

    Examples
    --------
    >>> chosen = choose_sample(range(100), 0.1, seed=7)
    >>> len(chosen), chosen == choose_sample(reversed(range(100)), 0.1, seed=7)
    (10, True)
    """
    ids = np.array(sorted(set(task_ids)), dtype=np.int64)
    k = sample_size(len(ids), rate)
    picked = np.random.default_rng(seed).choice(len(ids), size=k, replace=False)
    return sorted(int(i) for i in ids[picked])
