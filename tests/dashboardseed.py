"""A store seeded with the QA history the dashboard shows: gold answers over time, a flag, a quiz, alerts.

Three annotators on project 1 (classes car / van / bus):
- alice (101): right 97 % of the time, but misses item 1 (seen three times), whose gold answer is wrong;
- bob (102): always calls vans cars -> flagged, then a requalification quiz;
- carol (103): new, a few answers, also misses item 1.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import Flask

from plugin.settings import load_settings
from plugin.store import Store
from plugin.store.schema import (
    alerts,
    annotator_states,
    flags,
    gold_answers,
    gold_copies,
    gold_items,
    projects,
    users,
)

PROJECT_ID = 1
CLASSES = ("car", "van", "bus")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ALICE, BOB, CAROL = 101, 102, 103
SUSPECT_ITEM = 1


def seed_dashboard_store(store: Store, *, seed: int = 7) -> None:
    rng = random.Random(seed)
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=PROJECT_ID, title="Vehicles", connected=True, seq=0))
        conn.execute(projects.insert().values(id=2, title="Empty project", connected=True, seq=0))
        for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
            conn.execute(users.insert().values(id=uid, email=f"{name}@example.com", username=name))
        for item_id in range(1, 13):
            conn.execute(
                gold_items.insert().values(
                    id=item_id,
                    project_id=PROJECT_ID,
                    source_project_id=9,
                    source_task_id=900 + item_id,
                    data={"image": f"/data/{item_id}.jpg"},
                    expert_result=[{"secret": "expert answer"}],
                    classes=[CLASSES[item_id % 3]],
                    origin="import",
                    created_at=START,
                    updated_at=START,
                    retired_at=START if item_id == 12 else None,
                )
            )
        answers = _alice(rng) + _bob(rng) + _carol()
        for n, (annotator, item_id, purpose, at, ok, label) in enumerate(answers, start=1):
            _answer(conn, n, annotator, item_id, purpose, at, ok, label)
        for uid, status, quiz_left in ((ALICE, "ok", 0), (BOB, "requalifying", 4), (CAROL, "onboarding", 0)):
            conn.execute(
                annotator_states.insert().values(
                    project_id=PROJECT_ID,
                    annotator_id=uid,
                    status=status,
                    quiz_left=quiz_left,
                    updated_at=START,
                )
            )
        flagged_at = START + timedelta(hours=30)
        conn.execute(
            flags.insert().values(
                project_id=PROJECT_ID,
                annotator_id=BOB,
                status="open",
                raised_at=flagged_at,
                decline_started_at=START + timedelta(hours=8),
                evidence={"reason": "upper bound below threshold"},
            )
        )
        for i, (kind, severity, title) in enumerate(
            (
                ("annotator_flagged", "warning", "bob@example.com flagged: accuracy 0.55 on project 1"),
                ("quiz_failed", "critical", "bob@example.com failed the requalification quiz"),
            )
        ):
            conn.execute(
                alerts.insert().values(
                    project_id=PROJECT_ID,
                    kind=kind,
                    severity=severity,
                    title=title,
                    details={"text": title},
                    created_at=flagged_at + timedelta(hours=i),
                )
            )


def _alice(rng: random.Random) -> list[tuple]:
    rows = []
    for i in range(60):
        item_id = SUSPECT_ITEM if i % 20 == 0 else 2 + i % 10
        ok = item_id != SUSPECT_ITEM and rng.random() < 0.97
        rows.append((ALICE, item_id, "regular", START + timedelta(hours=i), ok, CLASSES[item_id % 3]))
    return rows


def _bob(rng: random.Random) -> list[tuple]:
    rows = []
    for i in range(30):
        item_id = 1 + i % 11
        label = CLASSES[item_id % 3]
        ok = label != "van" and rng.random() < 0.95
        rows.append((BOB, item_id, "regular", START + timedelta(hours=i, minutes=20), ok, label))
    for i in range(6):  # the quiz after the flag
        item_id = 2 + i
        label = CLASSES[item_id % 3]
        rows.append((BOB, item_id, "quiz", START + timedelta(hours=31 + i), label != "van", label))
    return rows


def _carol() -> list[tuple]:
    return [
        (CAROL, item_id, "onboarding", START + timedelta(hours=40 + item_id), item_id != SUSPECT_ITEM, label)
        for item_id, label in ((1, CLASSES[1]), (2, CLASSES[2]), (3, CLASSES[0]), (4, CLASSES[1]))
    ]


def _answer(conn, n: int, annotator: int, item_id: int, purpose: str, at, ok: bool, label: str) -> None:
    conn.execute(
        gold_copies.insert().values(
            id=n,
            project_id=PROJECT_ID,
            task_id=5000 + n,
            item_id=item_id,
            annotator_id=annotator,
            purpose=purpose,
            state="answered",
            helper_annotation_ids=[],
            created_at=at - timedelta(minutes=5),
            answered_at=at,
        )
    )
    wrong = {"car": "van", "van": "car", "bus": "car"}[label]
    conn.execute(
        gold_answers.insert().values(
            project_id=PROJECT_ID,
            item_id=item_id,
            annotator_id=annotator,
            copy_id=n,
            annotation_id=7000 + n,
            purpose=purpose,
            result=[{"secret": "annotator result"}],
            score=1.0 if ok else 0.0,
            passed=ok,
            outcomes=[{"gold": label, "pred": label if ok else wrong}],
            answered_at=at,
        )
    )


API_TOKEN = "api-token-0123456789"
USERNAME, PASSWORD = "qa-lead", "correct horse battery staple"
SESSION_SECRET = "s" * 40


def dashboard_env(store_url: str, **overrides: str) -> dict[str, str]:
    """Environment for load_settings: API token and dashboard login set (override with "" to unset)."""
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "0123456789abcdef0123",
        "LSQA_DATABASE_URL": store_url,
        "LSQA_API_TOKEN": API_TOKEN,
        "LSQA_DASHBOARD_USERNAME": USERNAME,
        "LSQA_DASHBOARD_PASSWORD": PASSWORD,
        "LSQA_DASHBOARD_SESSION_SECRET": SESSION_SECRET,
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


@contextmanager
def seeded_app(store_url: str, **env: str) -> Iterator[Flask]:
    """The app over a migrated, seeded store at ``store_url``; closed afterwards."""
    from webhooks.app import create_app

    store = Store(store_url)
    try:
        store.migrate()
        seed_dashboard_store(store)
        app = create_app(load_settings(None, env=dashboard_env(store_url, **env)), store=store)
        try:
            yield app
        finally:
            app.extensions["lsqa"]["writer"].close()
    finally:
        store.dispose()
