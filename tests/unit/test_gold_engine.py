"""The gold engine end to end on both store engines, with a fake of the Label Studio adapter."""

import itertools
import json
import random
from datetime import UTC, datetime

from eventfactory import annotation_event
from goldsim import API_TOKEN, BAD, GOOD, Simulation, choice, project, run, settings
from sqlalchemy import select

from plugin.gold.review import suspect_annotation_ids
from plugin.jobs import run_due_jobs
from plugin.settings import load_settings
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import (
    alerts,
    annotations,
    annotator_states,
    flags,
    gold_answers,
    gold_copies,
    gold_items,
    jobs,
)
from webhooks.app import create_app

__all__ = ["project", "settings"]  # fixtures


def test_gold_engine_onboards_schedules_scores_and_flags(store, settings, project):
    sim = Simulation(store, settings)
    run(sim)
    with store.read() as conn:
        answers = conn.execute(select(gold_answers)).mappings().all()
        states = {r.annotator_id: r for r in conn.execute(select(annotator_states))}
        open_flags = conn.execute(select(flags.c.annotator_id, flags.c.decline_started_at)).all()
        alert_rows = conn.execute(select(alerts.c.kind, alerts.c.delivered)).all()
        copies = conn.execute(select(gold_copies)).mappings().all()
        pending = conn.execute(select(jobs.c.id).where(jobs.c.status == "pending")).all()
    by_user = {u: [a for a in answers if a["annotator_id"] == u] for u in (GOOD, BAD)}
    assert [a["purpose"] for a in by_user[GOOD][:2]] == ["onboarding", "onboarding"]
    regular_good = sum(a["purpose"] == "regular" for a in by_user[GOOD])
    assert abs(regular_good - 0.1 * 150) <= 1
    assert all(a["passed"] for a in by_user[GOOD])
    assert [u for u, _ in open_flags] == [BAD] and open_flags[0][1] is not None
    assert states[BAD].status == "flagged" and states[GOOD].status == "ok"  # failed quiz and both retries
    assert any(a["purpose"] == "quiz" for a in by_user[BAD])
    assert (
        "annotator_flagged",
        [{"channel": "log", "target": "plugin.alerts", "delivered": True, "error": None}],
    ) in [(k, d) for k, d in alert_rows]
    assert all(c["state"] == "deleted" for c in copies) and not pending
    assert sorted(sim.fake.deleted) == sorted(c["task_id"] for c in copies)
    for copy in copies:  # everyone but the target and our service account was kept away from it
        blocked = {u for t, u in sim.fake.helper_skips if t == copy["task_id"]}
        assert blocked == {GOOD, BAD} - {copy["annotator_id"]}
        assert sim.fake.tasks[copy["task_id"]]["overlap"] == 2
    for user in (GOOD, BAD):
        items = [c["item_id"] for c in copies if c["annotator_id"] == user]
        assert len(items) == len(set(items))


def test_gold_copies_wait_out_an_outage(store, settings, project):
    sim = Simulation(store, settings)
    sim.fake.down = True
    sim.label(GOOD, 1, "pos")  # first sight of GOOD: an onboarding copy is due, Label Studio is down
    with store.read() as conn:
        job = conn.execute(select(jobs.c.status, jobs.c.attempts)).one()
    assert job == ("pending", 1)
    sim.fake.down = False
    with store.begin() as conn:  # skip the back-off wait
        conn.execute(jobs.update().values(run_after=datetime.now(UTC)))
    run_due_jobs(store, sim.worker.job_handlers)
    assert sim.copy_waiting_for(GOOD) is not None


def test_annotators_api_requires_the_token_and_reports_figures(store, settings, project):
    sim = Simulation(store, settings)
    run(sim)
    client = create_app(settings, store=store).test_client()
    assert client.get("/api/v1/projects/1/annotators").status_code == 401
    wrong = client.get("/api/v1/projects/1/annotators", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    ok = client.get("/api/v1/projects/1/annotators", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert ok.status_code == 200
    people = {p["id"]: p for p in ok.get_json()["annotators"]}
    assert set(people) == {GOOD, BAD}
    assert people[GOOD]["status"] == "ok" and people[GOOD]["accuracy"]["accuracy"] == 1.0
    assert people[BAD]["status"] == "flagged" and people[BAD]["flag"]["decline_started_at"]
    assert 0.05 <= people[GOOD]["gold_share"] <= 0.15
    assert set(people[GOOD]["per_class"]) <= {"pos", "neg"}
    assert "expert_result" not in json.dumps(ok.get_json()) and "gold 1" not in json.dumps(ok.get_json())
    missing = client.get("/api/v1/projects/99/annotators", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert missing.status_code == 404


def test_annotators_api_is_off_without_a_token(store, store_url):
    env = {
        "LABEL_STUDIO_URL": "http://x",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    client = create_app(load_settings(None, env=env), store=store).test_client()
    response = client.get("/api/v1/projects/1/annotators", headers={"Authorization": "Bearer "})
    assert response.status_code == 503


def test_turning_off_show_overlap_first_is_repaired_and_reported(store, settings, project):
    sim = Simulation(store, settings)
    project_state = {"show_overlap_first": False, "id": 1}
    sim.fake.get_project = lambda pid: dict(project_state)
    sim.fake.update_project = lambda pid, **fields: project_state.update(fields) or dict(project_state)
    body = {"action": "PROJECT_UPDATED", "project": {"id": 1, "title": "p", "show_overlap_first": False}}
    with store.inbox_begin() as conn:
        append_events(conn, [InboxEvent("project-updated", "PROJECT_UPDATED", 1, json.dumps(body))])
    sim.worker.drain()
    run_due_jobs(store, sim.worker.job_handlers)
    run_due_jobs(store, sim.worker.job_handlers)  # the alert it raised
    assert project_state["show_overlap_first"] is True
    with store.read() as conn:
        kinds = conn.execute(select(alerts.c.kind, alerts.c.delivered)).all()
    assert [k for k, _ in kinds] == ["settings_repaired"] and kinds[0][1]


def test_ground_truth_set_in_the_project_becomes_a_gold_item(store, settings, project):
    sim = Simulation(store, settings)
    body = annotation_event(500, 77, GOOD, action="ANNOTATION_UPDATED", choice="neg")
    body["annotation"]["ground_truth"] = True
    body["task"]["data"] = {"text": "a task the expert settled"}
    sim.send(body)
    with store.read() as conn:
        item = conn.execute(select(gold_items).where(gold_items.c.origin == "project")).mappings().one()
    assert item["source_task_id"] == 77 and item["data"] == {"text": "a task the expert settled"}
    assert item["expert_result"] == choice("neg") and item["classes"] == ["neg"]


def test_on_enterprise_copies_are_assigned_and_a_hopeless_annotator_is_paused(store, settings, project):
    sim = Simulation(store, settings, edition="Enterprise")
    run(sim)
    with store.read() as conn:
        copies = conn.execute(select(gold_copies)).mappings().all()
        states = {r.annotator_id: r.status for r in conn.execute(select(annotator_states))}
    assert copies and not sim.fake.helper_skips  # no helper skips needed
    assert all(sim.fake.assigned[c["task_id"]] == [c["annotator_id"]] for c in copies)
    assert all(sim.fake.tasks[c["task_id"]]["overlap"] == 1 for c in copies)
    assert states[BAD] == "flagged"  # failed the quiz and both retries
    assert sim.fake.paused == [(1, BAD)]


def test_on_community_a_hopeless_annotator_stays_flagged_without_a_pause(store, settings, project):
    sim = Simulation(store, settings)
    run(sim)
    with store.read() as conn:
        note = conn.execute(select(jobs.c.last_error).where(jobs.c.kind == "pause_annotator")).scalar_one()
        status = conn.execute(select(annotator_states.c.status).where(annotator_states.c.annotator_id == BAD))
        assert status.scalar_one() == "flagged"
    assert "cannot pause" in note and not sim.fake.paused


def test_passing_the_quiz_clears_the_flag_and_restarts_the_evidence(store, settings, project):
    sim = Simulation(store, settings)
    rng = random.Random(3)
    task_ids = itertools.count(1)

    def state():
        with store.read() as conn:
            return conn.execute(
                select(annotator_states.c.status).where(annotator_states.c.annotator_id == BAD)
            ).scalar_one_or_none()

    while state() != "requalifying":  # slips until flagged...
        sim.answer_gold(BAD, 0.6, rng)
        sim.label(BAD, next(task_ids), "pos")
    for _ in range(40):  # ...then takes the quiz seriously
        sim.answer_gold(BAD, 0.0, rng)
        sim.label(BAD, next(task_ids), "pos")
    with store.read() as conn:
        flag = conn.execute(select(flags.c.status, flags.c.cleared_at)).one()
        # the library may also run low meanwhile (gold_library_low): not what this test is about
        query = select(alerts.c.kind).where(alerts.c.kind != "gold_library_low").order_by(alerts.c.id)
        kinds = [k for (k,) in conn.execute(query)]
    assert flag.status == "cleared" and flag.cleared_at is not None
    assert state() == "ok"
    assert kinds[0] == "annotator_flagged" and "quiz_passed" in kinds[1]


def test_work_since_the_decline_began_is_suspect(store, settings, project):
    sim = Simulation(store, settings)
    run(sim)
    with store.read() as conn:
        start = conn.execute(select(flags.c.decline_started_at)).scalar_one()
        suspects = suspect_annotation_ids(conn, 1, BAD)
        mine = conn.execute(
            select(annotations.c.id, annotations.c.created_at, annotations.c.task_id).where(
                annotations.c.annotator_id == BAD, annotations.c.was_cancelled.is_(False)
            )
        ).all()
    start = start.replace(tzinfo=None)
    expected = sorted(i for i, at, task in mine if task < 10_000 and at.replace(tzinfo=None) >= start)
    assert suspects == expected and len(suspects) > 10
    with store.read() as conn:
        assert suspect_annotation_ids(conn, 1, GOOD) == []
