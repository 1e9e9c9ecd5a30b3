"""A project's error profile from hidden gold, and the strategy it calls for (``lsqa relabel plan``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from plugin.gold.review import EVIDENCE_PURPOSES, classes_identified
from plugin.relabel.plan import recommend_strategy
from plugin.store.schema import gold_answers


def error_profile(conn: Connection, project_id: int) -> dict[str, Any]:
    """Overall error rate, per class (label, n, error_rate) and per annotator (n, error_share) on gold.

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
            {"annotator": a, "n": n, "error_share": wrong / errors if errors else 0.0}
            for a, (n, wrong) in sorted(people.items())
        ],
    }


def relabel_plan(conn: Connection, project_id: int) -> dict[str, Any]:
    profile = error_profile(conn, project_id)
    recommendation = recommend_strategy(
        profile["error_rate"],
        [(c["label"], c["n"], c["error_rate"]) for c in profile["per_class"]],
        [(a["annotator"], a["n"], a["error_share"]) for a in profile["per_annotator"]],
    )
    return {"project_id": project_id, **profile, "recommendation": recommendation}
