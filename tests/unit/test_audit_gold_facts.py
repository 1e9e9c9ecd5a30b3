"""The gold engine's facts on the trail: every scored answer, the flag, the quiz, the cleared flag
and each alert raised and sent, in order, with ids and figures but never the gold answer."""

import itertools
import json
import random

import pytest
from audittools import verdict
from sqlalchemy import select
from test_gold_engine import BAD, Simulation, project, settings  # noqa: F401 (fixtures)

from plugin.store.schema import alerts, annotator_states, flags, gold_answers
from plugin.store.schema_audit import audit_log


# The trail's SQL is tested on both engines elsewhere; this flow is long, so SQLite only.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_gold_review_and_alert_facts_are_on_the_trail(store, settings, project):  # noqa: F811
    sim = Simulation(store, settings)
    rng = random.Random(3)
    task_ids = itertools.count(1)

    def status():
        with store.read() as conn:
            query = select(annotator_states.c.status).where(annotator_states.c.annotator_id == BAD)
            return conn.execute(query).scalar_one_or_none()

    while status() != "requalifying":  # slips until flagged, then passes the quiz
        sim.answer_gold(BAD, 0.6, rng)
        sim.label(BAD, next(task_ids), "pos")
    while status() != "ok":
        sim.answer_gold(BAD, 0.0, rng)
        sim.label(BAD, next(task_ids), "pos")
    with store.read() as conn:
        rows = [{**r, "facts": json.loads(r["facts"])} for r in conn.execute(select(audit_log)).mappings()]
        answers = conn.execute(select(gold_answers).order_by(gold_answers.c.id)).mappings().all()
        flag_id = conn.execute(select(flags.c.id)).scalar_one()
        alert_ids = list(conn.execute(select(alerts.c.id).order_by(alerts.c.id)).scalars())
    kinds = [r["kind"] for r in rows if not r["kind"].startswith("annotation.")]
    scored = [r for r in rows if r["kind"] == "gold.scored"]
    assert [(r["facts"]["copy_id"], r["facts"]["score"], r["facts"]["passed"]) for r in scored] == [
        (a["copy_id"], a["score"], a["passed"]) for a in answers
    ]
    assert {r["actor"] for r in scored} == {f"annotator:{a['annotator_id']}" for a in answers}
    assert kinds.count("flag.raised") == 1 and kinds.count("flag.cleared") == 1
    assert kinds.index("flag.raised") < kinds.index("quiz.result") < kinds.index("flag.cleared")
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["flag.raised"]["facts"]["flag_id"] == flag_id
    assert by_kind["flag.raised"]["subject"] == f"annotator:{BAD}"
    assert by_kind["flag.raised"]["facts"]["accuracy"] < by_kind["flag.raised"]["facts"]["threshold"]
    quiz = by_kind["quiz.result"]["facts"]
    assert (quiz["status"], quiz["outcome"], quiz["flag_id"]) == ("passed", "cleared", flag_id)
    raised = [r["facts"]["alert_id"] for r in rows if r["kind"] == "alert.raised"]
    sent = [r for r in rows if r["kind"] == "alert.sent"]
    assert raised == alert_ids and [r["facts"]["alert_id"] for r in sent] == alert_ids
    assert sent[0]["facts"]["deliveries"] == [
        {"channel": "log", "target": "plugin.alerts", "delivered": True}
    ]
    everything = json.dumps([r["facts"] for r in rows])
    assert "choices" not in everything and "outcomes" not in everything and "expert" not in everything
    assert verdict(store).ok
