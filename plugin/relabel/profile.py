"""A project's error figures from hidden gold, and the fix they call for (``lsqa relabel plan``).

The choice itself is :func:`plugin.quality.plan.recommend`, the same table the audit report uses.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from plugin.gold.review import EVIDENCE_PURPOSES, classes_identified
from plugin.quality.plan import error_profile, recommend
from plugin.store.schema import gold_answers


def gold_error_figures(conn: Connection, project_id: int) -> dict[str, Any]:
    """Overall error rate, per class (label, n, error_rate), per annotator (n, accuracy, error_share).

    A gold answer is an error when it did not pass; a class is in error in an answer when not every
    gold instance of it was given that class. Quiz answers are left out (they are not everyday work).
    """
    query = select(gold_answers.c.annotator_id, gold_answers.c.passed, gold_answers.c.outcomes).where(
        gold_answers.c.project_id == project_id, gold_answers.c.purpose.in_(EVIDENCE_PURPOSES)
    )
    total = errors = 0
    classes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    people: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for annotator_id, passed, outcomes in conn.execute(query):
        total += 1
        errors += int(not passed)
        people[annotator_id][0] += 1
        people[annotator_id][1] += int(not passed)
        for label, right in classes_identified(outcomes).items():
            classes[label][0] += 1
            classes[label][1] += int(not right)
    return {
        "records_compared": total,
        "error_rate": errors / total if total else None,
        "per_class": [
            {"label": label, "n": n, "error_rate": wrong / n} for label, (n, wrong) in sorted(classes.items())
        ],
        "per_annotator": [
            {
                "annotator": a,
                "n": n,
                "accuracy": 1.0 - wrong / n,
                "error_share": wrong / errors if errors else 0.0,
            }
            for a, (n, wrong) in sorted(people.items())
        ],
    }


def relabel_plan(conn: Connection, project_id: int) -> dict[str, Any]:
    """The gold figures, their error profile and the recommended fix (same keys as the audit report)."""
    figures = gold_error_figures(conn, project_id)
    rate, per_class, per_annotator = figures["error_rate"], figures["per_class"], figures["per_annotator"]
    return {
        "project_id": project_id,
        **figures,
        "error_profile": None if rate is None else error_profile(rate, per_class, per_annotator),
        "recommendation": recommend(rate, per_class, per_annotator),
    }
