"""The relabel loop's rules, schedule and flag tabs: pure rules, and store parts on both engines."""

from datetime import timedelta

from sqlalchemy import select
from test_relabel_store import (
    CHOICES,
    PROJECT,
    SERVICE_SETTINGS,
    T0,
    add_answer,
    add_gold,
    annotation,
    choice,
    seed,
)

from plugin.jobs import Job
from plugin.records import Changes, ProjectRecord
from plugin.relabel.candidates import RelabelSettings, systematic_candidates
from plugin.relabel.queue import items_of, queue_candidates
from plugin.relabel.rules import (
    kappa_alert_due,
    raw_kappa_alert,
    raw_suspect_gold_item,
    raw_systematic_error,
    suspect_gold_item,
    systematic_error,
)
from plugin.relabel.schedule import RelabelSchedule, enqueue_cycles, run_cycle, scan_on_new_model
from plugin.relabel.views import flag_views, id_filters
from plugin.store.relabel_tabs import save_view, stored_views
from plugin.store.schema import flags, jobs, projects


def test_kappa_alert_needs_the_upper_bound_below_and_enough_items():
    low_but_unsure = {"kappa": 0.6, "ci": [0.3, 0.85], "n": 80}
    assert raw_kappa_alert(low_but_unsure, 0.75) and not kappa_alert_due(low_but_unsure, 0.75, 30)
    sure = {"kappa": 0.5, "ci": [0.35, 0.66], "n": 80}
    assert kappa_alert_due(sure, 0.75, 30)
    assert not kappa_alert_due({**sure, "n": 29}, 0.75, 30)  # too few items, however low
    assert kappa_alert_due({"kappa": 0.5, "ci": None, "n": 30}, 0.75, 30)  # no bootstrap: the point
    assert not kappa_alert_due({"kappa": None, "ci": None, "n": 99}, 0.75, 30)


def test_systematic_rule_wants_a_bound_not_a_ratio():
    assert raw_systematic_error(3, 5, accuracy=0.6, min_answers=5)  # 60 % right: the raw cut took it
    assert not systematic_error(3, 5, accuracy=0.6, min_answers=5)
    assert not systematic_error(2, 5, accuracy=0.6, min_answers=5)
    assert systematic_error(0, 5, accuracy=0.6, min_answers=5)
    assert systematic_error(6, 20, accuracy=0.6, min_answers=5)  # 30 % right over 20 answers
    assert not systematic_error(0, 4, accuracy=0.6, min_answers=5)


def test_suspect_gold_item_wants_more_misses_than_good_annotators_make():
    assert raw_suspect_gold_item(1, 2) and not suspect_gold_item(1, 2, threshold=0.9)
    assert suspect_gold_item(2, 2, threshold=0.9)
    assert not suspect_gold_item(1, 6, threshold=0.9) and suspect_gold_item(4, 6, threshold=0.9)
    assert not suspect_gold_item(1, 1, threshold=0.9)


def test_id_filters_group_runs_and_keep_the_newest_when_too_many():
    filters, left_out = id_filters([5, 1, 2, 3, 9])
    assert filters["conjunction"] == "or" and left_out == 0
    assert [(i["operator"], i["value"]) for i in filters["items"]] == [
        ("in", {"min": 1, "max": 3}),
        ("equal", 5),
        ("equal", 9),
    ]
    filters, left_out = id_filters(range(0, 20, 2), limit=3)
    assert [i["value"] for i in filters["items"]] == [14, 16, 18] and left_out == 7
    empty, _ = id_filters([])
    assert empty["items"] == [
        {"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": 0}
    ]


def _systematic_seed(store, n_work):
    work = [annotation(i, 100 + i, 7, choice("neg"), T0 + timedelta(minutes=i)) for i in range(1, n_work + 1)]
    seed(store, CHOICES, work, [100 + i for i in range(1, n_work + 1)])
    wrong = [{"tag": "s", "gold": "neg", "pred": "pos", "count": 1}]
    with store.begin() as conn:
        item, copy = add_gold(conn, None, choice("neg"))
        for i in range(8):
            add_answer(conn, item, copy + i, 7, choice("pos"), False, wrong)


def test_systematic_candidates_are_capped_newest_first_over_runs(store):
    _systematic_seed(store, 6)
    settings = RelabelSettings(systematic_max_items=4)
    with store.begin() as conn:
        first = systematic_candidates(conn, PROJECT, settings)
        assert [c.annotation_id for c in first] == [6, 5, 4, 3]
        queue_candidates(conn, PROJECT, first)
        assert systematic_candidates(conn, PROJECT, settings) == []  # the cap holds across cycles
    with store.read() as conn:
        assert len(items_of(conn, PROJECT)) == 4


def _connect(store, project_id=PROJECT):
    with store.begin() as conn:
        conn.execute(update_connected(project_id))


def update_connected(project_id):
    return projects.update().where(projects.c.id == project_id).values(connected=True)


def test_schedule_enqueues_one_cycle_per_slot_whatever_the_workers(store):
    seed(store, CHOICES, [], [10])
    _connect(store)
    one, two = RelabelSchedule(store, SERVICE_SETTINGS), RelabelSchedule(store, SERVICE_SETTINGS)
    assert one.interval == 600
    assert one.tick(now=6000.0) and two.tick(now=6001.0)  # two workers, same slot
    assert not one.tick(now=6100.0)  # same slot again: nothing written
    one.tick(now=6600.0)  # next slot
    with store.read() as conn:
        keys = sorted(conn.execute(select(jobs.c.dedupe_key).where(jobs.c.kind == "relabel_cycle")).scalars())
    assert keys == [f"relabel_cycle:{PROJECT}:10", f"relabel_cycle:{PROJECT}:11"]


def test_a_cycle_queues_candidates_and_enqueues_scan_push_and_tabs(store):
    _systematic_seed(store, 2)
    _connect(store)
    with store.begin() as conn:
        assert enqueue_cycles(conn, 3) == 1
        (job_id,) = conn.execute(select(jobs.c.id).where(jobs.c.kind == "relabel_cycle")).scalars()
    run_cycle(
        store, SERVICE_SETTINGS, Job(job_id, "relabel_cycle", PROJECT, {"project_id": PROJECT, "slot": 3}, 0)
    )
    with store.read() as conn:
        assert len(items_of(conn, PROJECT)) == 2
        rows = conn.execute(select(jobs.c.kind, jobs.c.dedupe_key, jobs.c.status).order_by(jobs.c.id)).all()
    assert [(k, s) for k, _, s in rows] == [
        ("relabel_cycle", "done"),
        ("relabel_scan", "pending"),
        ("relabel_push", "pending"),
        ("relabel_views", "pending"),
    ]
    assert rows[2][1] == f"relabel_push:{PROJECT}:slot:3"


def test_a_new_model_version_enqueues_one_scan(store):
    seed(store, CHOICES, [], [10])
    _connect(store)
    event = Changes(projects=[ProjectRecord(PROJECT, "p", CHOICES, {"model_version": "ckpt-7"})])
    with store.begin() as conn:
        for _ in range(2):  # the same version twice (a replay, or another setting changed)
            scan_on_new_model(conn, "PROJECT_UPDATED", event, SERVICE_SETTINGS)
        scan_on_new_model(conn, "ANNOTATION_CREATED", event, SERVICE_SETTINGS)
        scans = conn.execute(select(jobs.c.payload).where(jobs.c.kind == "relabel_scan")).scalars().all()
    assert [s["model_version"] for s in scans] == ["ckpt-7"]


def test_an_open_flag_wants_a_tab_of_its_suspect_tasks_and_views_are_stored(store):
    work = [
        annotation(1, 10, 7, choice("neg"), T0 - timedelta(days=1)),  # before the decline
        annotation(2, 11, 7, choice("neg"), T0 + timedelta(hours=1)),
        annotation(3, 12, 7, choice("pos"), T0 + timedelta(hours=2)),
        annotation(4, 13, 8, choice("pos"), T0 + timedelta(hours=2)),
    ]
    seed(store, CHOICES, work, [10, 11, 12, 13])
    with store.begin() as conn:
        for status in ("open", "cleared"):
            conn.execute(
                flags.insert().values(
                    project_id=PROJECT,
                    annotator_id=7 if status == "open" else 8,
                    status=status,
                    raised_at=T0,
                    decline_started_at=T0,
                    evidence={"reason": "accuracy 0.5 < 0.9"},
                )
            )
        (wanted,) = flag_views(conn, PROJECT)
        assert wanted.task_ids == (11, 12)
        assert wanted.title.startswith("QA flag #1: user 7 - accuracy 0.5 < 0.9")
        save_view(conn, PROJECT, wanted.subject, 55, wanted.title, wanted.task_ids)
        save_view(conn, PROJECT, wanted.subject, 55, wanted.title, [11, 12, 14])
    with store.read() as conn:
        stored = stored_views(conn, PROJECT)
    assert list(stored) == ["flag:1"] and stored["flag:1"]["task_ids"] == [11, 12, 14]
