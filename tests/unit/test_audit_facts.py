"""QA facts on the trail: what the worker hook records for a batch of events, and what the gold
engine, the review and alert delivery record, without results, gold answers or credentials."""

import copy
import json
import random

import pytest
from audittools import verdict
from eventfactory import annotation_event, deleted_annotations, payload
from sqlalchemy import event, select
from test_worker import enqueue

from plugin.settings import load_settings
from plugin.store.schema_audit import audit_log
from plugin.worker import Worker


@pytest.fixture
def settings(store_url):
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(None, env=env)


def bulk_created(first_annotation_id, first_task_id, n, user):
    """ANNOTATIONS_CREATED as Label Studio sends it for an import: lists under the singular keys."""
    body = payload("ANNOTATIONS_CREATED")
    annotation, task = body["annotation"][0], body["task"][0]
    body["annotation"], body["task"] = [], []
    for i in range(n):
        body["annotation"].append(
            {
                **copy.deepcopy(annotation),
                "id": first_annotation_id + i,
                "task": first_task_id + i,
                "completed_by": user,
            }
        )
        body["task"].append({**copy.deepcopy(task), "id": first_task_id + i})
    return body


def trail(store, kind=None):
    query = select(audit_log).order_by(audit_log.c.seq)
    if kind:
        query = query.where(audit_log.c.kind == kind)
    with store.read() as conn:
        return [{**row, "facts": json.loads(row["facts"])} for row in conn.execute(query).mappings()]


def test_worker_records_annotation_facts_for_a_batch_of_events(store, settings):
    rng = random.Random(5)
    singles = [
        annotation_event(i, 100 + i, rng.choice((2, 3)), choice=rng.choice(("pos", "neg")))
        for i in range(1, 41)
    ]
    bodies = [
        *singles,
        bulk_created(1000, 2000, 60, 4),
        annotation_event(
            7, 107, singles[6]["annotation"]["completed_by"], action="ANNOTATION_UPDATED", choice="neg"
        ),
        annotation_event(41, 141, 2, cancelled=True),
        deleted_annotations(3, 1005, 99999),
    ]
    inserts = []

    def count_inserts(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO audit_log"):
            inserts.append(statement)

    enqueue(store, bodies)
    event.listen(store.engine, "before_cursor_execute", count_inserts)
    try:
        assert Worker(store, settings).drain() == len(bodies)
    finally:
        event.remove(store.engine, "before_cursor_execute", count_inserts)
    assert len(inserts) == len(bodies)  # one INSERT per event, whatever its size
    received = trail(store, "annotation.received")
    assert len(received) == 41 + 60
    by_annotation = {r["facts"]["annotation_id"]: r for r in received}
    for body in singles:
        row = by_annotation[body["annotation"]["id"]]
        assert row["actor"] == f"annotator:{body['annotation']['completed_by']}"
        assert row["subject"] == f"task:{body['task']['id']}" and row["project_id"] == 1
        assert row["facts"]["at"] and row["facts"]["was_cancelled"] is False
    assert {by_annotation[1000 + i]["subject"] for i in range(60)} == {f"task:{2000 + i}" for i in range(60)}
    assert by_annotation[41]["facts"]["was_cancelled"] is True
    (updated,) = trail(store, "annotation.updated")
    assert updated["facts"]["annotation_id"] == 7 and updated["subject"] == "task:107"
    deleted = {r["facts"]["annotation_id"]: r for r in trail(store, "annotation.deleted")}
    assert (
        deleted[3]["subject"] == "task:103"
        and deleted[3]["facts"]["annotator_id"] == singles[2]["annotation"]["completed_by"]
    )
    assert deleted[1005]["facts"]["annotator_id"] == 4 and deleted[99999]["facts"]["annotator_id"] is None
    everything = json.dumps(trail(store), default=str)
    assert "choices" not in everything and '"result"' not in everything and "token" not in everything
    assert verdict(store).ok


def test_worker_records_every_annotation_of_a_big_event(store, settings):
    enqueue(store, [bulk_created(1, 1, 600, 5)])  # SQLite writes it in pieces; the trail needs it whole
    assert Worker(store, settings).drain() == 1
    received = trail(store, "annotation.received")
    assert sorted(r["facts"]["annotation_id"] for r in received) == list(range(1, 601))
    assert verdict(store).ok
