"""Gold copies at scale, with the fake adapter: a constant number of Label Studio calls per copy
whatever the organization's size, a cached member list, deletes that survive id reuse, and the
alert raised before the library runs dry."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from goldsim import BAD, GOOD, SERVICE, Simulation, choice, project, settings
from sqlalchemy import select

from plugin.gold.library_watch import LOW_LIBRARY, check_library_left, low_causes
from plugin.gold.members import MemberCache
from plugin.jobs import run_due_jobs
from plugin.labelstudio import LabelStudioError
from plugin.store.gold import LibraryLeft, unseen_items_left
from plugin.store.schema import alerts, gold_copies, gold_items, jobs

__all__ = ["project", "settings"]  # fixtures

COPY_VERBS = ("import_task_skipped_by", "create_annotation", "create_task", "update_task", "delete_task")


def copies_of(store):
    with store.read() as conn:
        return conn.execute(select(gold_copies).order_by(gold_copies.c.id)).mappings().all()


def label_and_answer(sim, user, n, rng=None):
    rng = rng or random.Random(1)
    task_ids = itertools.count(1)
    for _ in range(n):
        sim.answer_gold(user, 0.0, rng)
        sim.label(user, next(task_ids), "pos")


@pytest.mark.parametrize("size", [3, 50, 200])
def test_a_community_copy_costs_four_calls_whatever_the_organization_size(store, settings, project, size):
    members = [SERVICE, GOOD, BAD, *range(100, 100 + size - 3)]
    sim = Simulation(store, settings, members=members)
    label_and_answer(sim, GOOD, 30)
    copies = copies_of(store)
    deleted = [c for c in copies if c["state"] == "deleted"]
    assert len(deleted) >= 4
    per_copy = [v for v in sim.fake.calls if v in COPY_VERBS]
    # one import (copy and every helper skip), a PATCH that checks them with the copy hidden, one
    # that serves it, one DELETE after the answer
    assert per_copy.count("import_task_skipped_by") == len(copies)
    assert len(per_copy) == 4 * len(deleted) + 3 * (len(copies) - len(deleted))
    assert sim.fake.calls.count("list_users") == 1  # read once, then cached
    for copy in copies:
        blocked = {u for t, u in sim.fake.helper_skips if t == copy["task_id"]}
        assert blocked == set(members) - {SERVICE, GOOD}
        assert sorted(copy["helper_annotation_ids"]) == sorted(blocked)


def test_a_newcomer_who_starts_working_is_blocked_on_the_next_copy(store, settings, project):
    newcomer = 77
    sim = Simulation(store, settings)
    label_and_answer(sim, GOOD, 3)
    assert sim.fake.calls.count("list_users") == 1
    sim.fake.members.append(newcomer)  # joins the organization, and labels a first task
    sim.label(newcomer, 5000, "pos")
    newest = copies_of(store)[-1]
    assert newest["annotator_id"] == newcomer  # their onboarding copy: the list was read again
    assert sim.fake.calls.count("list_users") == 2
    label_and_answer(sim, GOOD, 12)
    later = [c for c in copies_of(store) if c["annotator_id"] == GOOD][-1]
    assert (later["task_id"], newcomer) in sim.fake.helper_skips


def test_skips_an_import_lost_are_posted_one_by_one(store, settings, project):
    # Label Studio on SQLite can answer an import 201 without its annotations (another annotation
    # took their id meanwhile); the PATCH's answer shows it, and the lost skips are posted.
    members = [SERVICE, GOOD, BAD, 100, 101]
    sim = Simulation(store, settings, members=members)
    sim.fake.imports_lose_skips = 1
    label_and_answer(sim, GOOD, 1)
    first = copies_of(store)[0]
    blocked = [u for t, u in sim.fake.helper_skips if t == first["task_id"]]
    assert sorted(blocked) == sorted(set(members) - {SERVICE, GOOD})  # each once
    assert sorted(first["helper_annotation_ids"]) == sorted(blocked)
    assert sim.fake.calls.count("create_annotation") == len(blocked)
    # posted while the copy was hidden (overlap 0, is_labeled true), served only afterwards
    patches = [f for t, f in sim.fake.patches if t == first["task_id"]]
    assert patches[:2] == [
        {"overlap": 0, "is_labeled": True, "meta": {}},
        {"overlap": 2, "is_labeled": False},
    ]
    assert sim.fake.skips_posted_while_hidden == len(blocked)
    # the next copies' imports keep their skips: no extra calls
    label_and_answer(sim, GOOD, 10)
    assert sim.fake.calls.count("create_annotation") == len(blocked)


def test_the_member_cache_reads_again_when_stale_or_a_newcomer_shows_up():
    reads, now = [], [0.0]
    people = [{"id": 1}, {"id": 2}]

    def list_users():
        reads.append(now[0])
        return people

    cache = MemberCache(list_users, max_age=60, clock=lambda: now[0])
    assert cache.member_ids({2}) == {1, 2} and len(reads) == 1
    assert cache.member_ids({1, 2}) == {1, 2} and len(reads) == 1
    people.append({"id": 3})
    assert cache.member_ids({1, 2, 3}) == {1, 2, 3} and len(reads) == 2  # a newcomer
    assert cache.member_ids({1, 2, 3, 9}) == {1, 2, 3} and len(reads) == 3  # 9 left the organization...
    assert cache.member_ids({1, 2, 3, 9}) == {1, 2, 3} and len(reads) == 3  # ...which is asked once
    now[0] = 61.0
    cache.member_ids({1})
    assert len(reads) == 4  # stale


def test_a_failed_import_reads_the_member_list_again(store, settings, project):
    sim = Simulation(store, settings)
    sim.fake.down = True
    sim.label(GOOD, 1, "pos")
    sim.fake.down = False
    with store.begin() as conn:  # skip the back-off wait
        conn.execute(jobs.update().values(run_after=datetime.now(UTC)))
    run_due_jobs(store, sim.worker.job_handlers)
    assert sim.copy_waiting_for(GOOD) is not None
    assert sim.fake.calls.count("list_users") == 2


def test_a_retried_delete_spares_a_task_that_took_the_copys_id(store, settings, project):
    sim = Simulation(store, settings)
    sim.label(GOOD, 1, "pos")
    task_id, _ = sim.copy_waiting_for(GOOD)
    real_delete = sim.fake.delete_task

    def delete_then_time_out(task):
        real_delete(task)
        # Label Studio deleted it but the answer was lost; meanwhile an import takes the freed id.
        sim.fake.tasks[task] = {"project": 1, "data": {"text": "an annotator's real task"}, "overlap": 1}
        sim.fake.live.add(task)
        sim.fake.delete_task = real_delete
        raise LabelStudioError("Label Studio did not answer DELETE in time")

    sim.fake.delete_task = delete_then_time_out
    sim.label(GOOD, task_id, "pos")  # the answer: the copy is harvested, its delete times out
    with store.begin() as conn:
        conn.execute(jobs.update().values(run_after=datetime.now(UTC)))
    run_due_jobs(store, sim.worker.job_handlers)
    assert task_id in sim.fake.live and sim.fake.tasks[task_id]["data"] == {
        "text": "an annotator's real task"
    }
    assert sim.fake.deleted == [task_id]  # the first, real delete only
    assert "get_task" in sim.fake.calls
    with store.read() as conn:
        assert conn.execute(select(jobs.c.status).where(jobs.c.kind == "delete_copy")).scalar_one() == "done"
    assert copies_of(store)[0]["state"] == "deleted"


@pytest.fixture
def small_library(store):
    """A project whose library holds 8 items, all of one class."""
    now = datetime.now(UTC)
    with store.begin() as conn:
        from plugin.store.schema import projects

        conn.execute(projects.insert().values(id=1, title="p", connected=True, seq=0))
        for i in range(8):
            conn.execute(
                gold_items.insert().values(
                    project_id=1, data={"text": f"gold {i}"}, expert_result=choice("pos"), classes=["pos"],
                    origin="cli", created_at=now, updated_at=now,
                )
            )  # fmt: skip
    return 1


def low_alerts(store):
    with store.read() as conn:
        rows = conn.execute(select(alerts.c.details).where(alerts.c.kind == LOW_LIBRARY)).scalars().all()
    return [dict(r) for r in rows]


def test_a_library_running_dry_raises_one_alert_before_it_is_empty(store, settings, small_library):
    sim = Simulation(store, settings)
    sim.worker.injector.low_library_items = 3
    label_and_answer(sim, GOOD, 120)  # at rate 0.1 plus onboarding: far more gold than 8 items
    served = [c for c in copies_of(store) if c["annotator_id"] == GOOD]
    assert len(served) == 8  # the whole library, and no item twice
    raised = low_alerts(store)
    assert len(raised) == 1
    assert raised[0]["cause"] == f"annotator:{GOOD}" and raised[0]["items left"] == 3
    with store.read() as conn:
        delivered = conn.execute(select(alerts.c.delivered).where(alerts.c.kind == LOW_LIBRARY)).scalar_one()
    assert delivered and delivered[0]["delivered"]  # went out through send_alert


def test_a_refilled_library_can_alert_again(store, small_library):
    with store.begin() as conn:
        for item_id in range(1, 7):  # six of eight seen: two left
            conn.execute(
                gold_copies.insert().values(
                    project_id=1, item_id=item_id, annotator_id=GOOD, purpose="regular", state="deleted",
                    helper_annotation_ids=[], created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        assert len(check_library_left(conn, 1, GOOD, 3)) == 1
        assert check_library_left(conn, 1, GOOD, 3) == []  # the same cause: once
        assert check_library_left(conn, 1, BAD, 3) == []  # BAD has eight left
        later = datetime.now(UTC) + timedelta(seconds=1)
        for i in range(3):
            conn.execute(
                gold_items.insert().values(
                    project_id=1, data={"text": f"more {i}"}, expert_result=choice("pos"), classes=["pos"],
                    origin="cli", created_at=later, updated_at=later,
                )
            )  # fmt: skip
        assert unseen_items_left(conn, 1, GOOD) == LibraryLeft(5, {"pos": 5})
        assert check_library_left(conn, 1, GOOD, 3) == []  # five left: not low
        for item_id in (7, 8):
            conn.execute(
                gold_copies.insert().values(
                    project_id=1, item_id=item_id, annotator_id=GOOD, purpose="regular", state="deleted",
                    helper_annotation_ids=[], created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        assert len(check_library_left(conn, 1, GOOD, 3)) == 1  # low again after a refill: raised again


def test_unseen_items_left_counts_per_class_and_skips_tasks_they_labelled(store, project):
    from plugin.records import AnnotationRecord, Changes
    from plugin.store.domain import apply_changes

    with store.begin() as conn:
        conn.execute(
            gold_items.update().where(gold_items.c.id == 2).values(source_project_id=1, source_task_id=9)
        )
        conn.execute(
            gold_copies.insert().values(
                project_id=1, item_id=1, annotator_id=GOOD, purpose="regular", state="live",
                helper_annotation_ids=[], created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        record = AnnotationRecord(1, 1, 9, GOOD, choice("pos"), 1.0, False, False)
        apply_changes(conn, Changes(annotations=[record]), 2)
        left = unseen_items_left(conn, 1, GOOD)
        assert left == LibraryLeft(38, {"neg": 19, "pos": 19})  # item 1 seen; item 2 is task 9, labelled
        assert unseen_items_left(conn, 1, BAD) == LibraryLeft(40, {"neg": 20, "pos": 20})


def test_low_causes_names_the_annotator_and_each_thin_class():
    left = LibraryLeft(12, {"cat": 9, "dog": 3, "bird": 0})
    assert [c.cause for c in low_causes(left, 5, 10)] == ["class:cat", "class:dog", "class:bird"]
    assert [c.cause for c in low_causes(LibraryLeft(3, {"cat": 3}), 5, 3)] == ["annotator:5"]
    assert low_causes(LibraryLeft(30, {"cat": 15, "dog": 15}), 5, 10) == []
