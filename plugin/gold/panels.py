"""Figures behind the dashboard's gold panels: accuracy over time, class x annotator, library health.

Store reads plus small pure helpers over them. Gold answers (expert results) never appear in what
these return: only scores, pass/miss counts and ids.
"""

from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from plugin.gold.review import EVIDENCE_PURPOSES, ReviewSettings, gold_answers_of
from plugin.gold.summary import annotator_ids, annotator_summary
from plugin.quality import GoldAnswer, RequalificationPolicy, measure_accuracy, wilson_interval, window_counts
from plugin.relabel.rules import suspect_gold_item
from plugin.store.people import display_names
from plugin.store.schema import alerts, flags, gold_answers, gold_copies, gold_items, projects, users
from plugin.store.timestamps import iso_utc

MAX_TIMELINE_POINTS = 500  # per annotator: the most recent answers; older ones only shape the first window


def project_list(conn: Connection) -> list[dict[str, Any]]:
    query = select(projects.c.id, projects.c.title, projects.c.connected, projects.c.last_synced_at)
    return [
        {"id": pid, "title": title, "connected": bool(connected), "last_synced_at": iso_utc(synced)}
        for pid, title, connected, synced in conn.execute(query.order_by(projects.c.id))
    ]


def project_exists(conn: Connection, project_id: int) -> bool:
    return conn.execute(select(projects.c.id).where(projects.c.id == project_id)).first() is not None


def accuracy_series(
    answers: list[GoldAnswer], *, window: int, confidence_level: float, limit: int = MAX_TIMELINE_POINTS
) -> list[dict[str, Any]]:
    """Rolling-window accuracy after each answer, with its Wilson interval (the last ``limit`` points).

    Examples
    --------
    >>> from datetime import datetime
    >>> t = datetime(2024, 1, 1)
    >>> answers = [GoldAnswer(str(i), t, 1.0, ok) for i, ok in enumerate([True, False, True])]
    >>> [(p["accuracy"], p["n"]) for p in accuracy_series(answers, window=2, confidence_level=0.95)]
    [(1.0, 1), (0.5, 2), (0.5, 2)]
    """
    if not answers:
        return []
    k, n = window_counts(np.array([a.passed for a in answers], dtype=bool), window)
    lower, upper = wilson_interval(k, n, confidence_level=confidence_level)
    start = max(0, len(answers) - limit)
    return [
        {
            "at": answers[i].answered_at.isoformat(),
            "accuracy": float(k[i] / n[i]),
            "lower": float(lower[i]),
            "upper": float(upper[i]),
            "n": int(n[i]),
        }
        for i in range(start, len(answers))
    ]


def accuracy_timeline(conn: Connection, project_id: int, review: ReviewSettings) -> dict[str, Any]:
    policy = review.policy(project_id)
    people = []
    for annotator_id in annotator_ids(conn, project_id):
        summary = annotator_summary(conn, project_id, annotator_id, review)
        answers = gold_answers_of(conn, project_id, annotator_id, EVIDENCE_PURPOSES)
        quizzes = gold_answers_of(conn, project_id, annotator_id, ("quiz",))
        people.append(
            {
                "id": annotator_id,
                "email": summary["email"],
                "name": summary["name"],
                "status": summary["status"],
                "accuracy": summary["accuracy"],
                "points": accuracy_series(
                    answers, window=policy.window, confidence_level=policy.confidence_level
                ),
                "quiz_answers": [{"at": q.answered_at.isoformat(), "passed": q.passed} for q in quizzes],
                "flags": _flags_of(conn, project_id, annotator_id),
            }
        )
    return {
        "project_id": project_id,
        "threshold": policy.threshold,
        "window": policy.window,
        "confidence_level": policy.confidence_level,
        "annotators": people,
    }


def _flags_of(conn: Connection, project_id: int, annotator_id: int) -> list[dict[str, Any]]:
    query = (
        select(flags.c.id, flags.c.status, flags.c.raised_at, flags.c.cleared_at, flags.c.decline_started_at)
        .where(flags.c.project_id == project_id, flags.c.annotator_id == annotator_id)
        .order_by(flags.c.id)
    )
    return [
        {
            "id": flag_id,
            "status": status,
            "raised_at": iso_utc(raised),
            "cleared_at": iso_utc(cleared),
            "decline_started_at": iso_utc(decline),
        }
        for flag_id, status, raised, cleared, decline in conn.execute(query)
    ]


def class_heatmap(conn: Connection, project_id: int, review: ReviewSettings) -> dict[str, Any]:
    """Per annotator and gold class: the share of window answers where the class was identified."""
    policy = review.policy(project_id)
    people, cells, labels = [], [], set()
    ids = annotator_ids(conn, project_id)
    names = display_names(conn, ids)
    for annotator_id in ids:
        answers = gold_answers_of(conn, project_id, annotator_id, EVIDENCE_PURPOSES)
        per_class = measure_accuracy(
            answers, window=policy.window, confidence_level=policy.confidence_level
        ).per_class
        people.append({"id": annotator_id, "email": _email(conn, annotator_id), "name": names[annotator_id]})
        for label, estimate in per_class.items():
            labels.add(label)
            cells.append({"annotator_id": annotator_id, "label": label, **estimate.to_dict()})
    return {
        "project_id": project_id,
        "threshold": policy.threshold,
        "labels": sorted(labels),
        "annotators": people,
        "cells": cells,
    }


def good_annotators(conn: Connection, project_id: int, policy: RequalificationPolicy) -> list[int]:
    """Annotators whose window accuracy is at or above the threshold on enough answers."""
    good = []
    for annotator_id in annotator_ids(conn, project_id):
        answers = gold_answers_of(conn, project_id, annotator_id, EVIDENCE_PURPOSES)
        accuracy = measure_accuracy(answers, window=policy.window)
        if accuracy.n >= policy.min_answers and accuracy.accuracy >= policy.threshold:
            good.append(annotator_id)
    return good


def library_health(conn: Connection, project_id: int, review: ReviewSettings) -> dict[str, Any]:
    """Items, exposure and miss rates; ``suspect`` items are the ones good annotators keep missing.

    An item is suspect when good annotators miss it more often than their accuracy allows, with
    confidence (``plugin.relabel.rules.suspect_gold_item``): a wrong or ambiguous gold answer is
    likelier than several good people failing alike.
    """
    policy = review.policy(project_id)
    good = good_annotators(conn, project_id, policy)
    g = gold_items.c
    items = {
        item_id: {
            "id": item_id,
            "source_project_id": source_project_id,
            "source_task_id": task_id,
            "retired": retired is not None,
        }
        for item_id, source_project_id, task_id, retired in conn.execute(
            select(g.id, g.source_project_id, g.source_task_id, g.retired_at).where(
                g.project_id == project_id
            )
        )
    }
    served: dict[int, int] = dict(
        conn.execute(
            select(gold_copies.c.item_id, func.count())
            .where(gold_copies.c.project_id == project_id)
            .group_by(gold_copies.c.item_id)
        ).all()
    )
    tallies = _answer_tallies(conn, project_id, good)
    rows = [
        _item_row(item, served.get(item_id, 0), tallies.get(item_id), policy.threshold)
        for item_id, item in items.items()
    ]
    rows.sort(key=lambda r: (not r["suspect"], -(r["miss_rate"] or 0.0), r["id"]))
    active = [r for r in rows if not r["retired"]]
    answered = sum(r["answers"] for r in rows)
    exposure = [r["served"] for r in active]
    return {
        "project_id": project_id,
        "items_active": len(active),
        "items_retired": len(rows) - len(active),
        "answers": answered,
        "miss_rate": sum(r["misses"] for r in rows) / answered if answered else None,
        "exposure": {
            "mean": float(np.mean(exposure)) if exposure else None,
            "max": max(exposure, default=0),
            "never_served": sum(1 for e in exposure if e == 0),
        },
        "good_annotators": good,
        "suspect_items": sum(1 for r in rows if r["suspect"]),
        "items": rows,
    }


def _answer_tallies(conn: Connection, project_id: int, good: list[int]) -> dict[int, list[int]]:
    """Per item: [answers, misses, answers by good annotators, misses by good annotators]."""
    tallies: dict[int, list[int]] = {}
    query = select(gold_answers.c.item_id, gold_answers.c.annotator_id, gold_answers.c.passed).where(
        gold_answers.c.project_id == project_id
    )
    good_set = set(good)
    for item_id, annotator_id, passed in conn.execute(query):
        tally = tallies.setdefault(item_id, [0, 0, 0, 0])
        missed = int(not passed)
        tally[0] += 1
        tally[1] += missed
        if annotator_id in good_set:
            tally[2] += 1
            tally[3] += missed
    return tallies


def _item_row(item: dict[str, Any], served: int, tally: list[int] | None, threshold: float) -> dict[str, Any]:
    answers, misses, good_answers, good_misses = tally or [0, 0, 0, 0]
    return {
        **item,
        "served": served,
        "answers": answers,
        "misses": misses,
        "miss_rate": misses / answers if answers else None,
        "good_answers": good_answers,
        "good_misses": good_misses,
        "suspect": suspect_gold_item(good_misses, good_answers, threshold=threshold),
    }


def recent_alerts(conn: Connection, project_id: int, limit: int) -> list[dict[str, Any]]:
    query = (
        select(alerts.c.id, alerts.c.kind, alerts.c.severity, alerts.c.title, alerts.c.details)
        .add_columns(alerts.c.created_at)
        .where(alerts.c.project_id == project_id)
        .order_by(alerts.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": alert_id,
            "kind": kind,
            "severity": severity,
            "title": title,
            "text": (details or {}).get("text"),
            "created_at": iso_utc(created),
        }
        for alert_id, kind, severity, title, details, created in conn.execute(query)
    ]


def _email(conn: Connection, annotator_id: int) -> str | None:
    return conn.execute(select(users.c.email).where(users.c.id == annotator_id)).scalar_one_or_none()
