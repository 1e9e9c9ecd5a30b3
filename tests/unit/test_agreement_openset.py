"""The bounded open set of sampled tasks, big imports and tasks no live TASKS_CREATED announced,
through the worker on both store engines, with the fake Label Studio of test_agreement_engine."""

from datetime import UTC, datetime, timedelta

import pytest
from eventfactory import payload
from test_agreement_engine import ANN, API_TOKEN, BEA, SECRET, Service, sampled_ids

from plugin.agreement.backlog import sample_next_backlog_batch
from plugin.agreement.engine import batch_policy, refresh_open_sets
from plugin.agreement.sampling import batch_seed, choose_sample
from plugin.settings import load_settings
from plugin.store.schema import gold_copies, gold_items, tasks
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

MAX_OPEN = 3
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(store_url, tmp_path):
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "gold:\n  enabled: false\nagreement:\n  bootstrap: 0\n  batch_size: 50\n"
        f"  max_open_samples: {MAX_OPEN}\napi:\n  token: {API_TOKEN}\n"
    )
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": SECRET,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


def tasks_created(ids, created_at=T0, origin=None):
    body = payload("TASKS_CREATED")
    template = body["tasks"][0]
    body["tasks"] = [{**template, "id": i, "data": {"text": f"t{i}"}, "created_at": created_at.isoformat()}
                     for i in ids]  # fmt: skip
    if origin:
        body["lsqa_origin"] = origin
    return body


def states(service):
    rows = service.rows(agreement_tasks, agreement_tasks.c.sampled)
    return {r["task_id"]: r["overlap"] for r in rows}


def opened(service):
    return sorted(t for t, state in states(service).items() if state in ("pending", "set"))


def rate_twice(service, task_ids):
    service.send(*(service.label(user, t, "bird") for t in task_ids for user in (ANN, BEA)))


def test_only_a_few_sampled_tasks_are_open_and_done_ones_make_room(store, settings):
    service = Service(store, settings)
    service.send(tasks_created(range(1, 201)))
    (batch,) = service.rows(agreement_batches)
    sample = sampled_ids(service, batch["id"])
    assert len(sample) == 20
    assert opened(service) == sample[:MAX_OPEN]  # oldest first
    assert service.fake.overlaps == dict.fromkeys(sample[:MAX_OPEN], 2)
    assert set(states(service).values()) == {"set", "waiting"}

    service.send(service.label(ANN, sample[0], "bird"))  # one rating: still open
    assert opened(service) == sample[:MAX_OPEN]
    service.send(service.label(BEA, sample[0], "cat"))  # two: done, the next waiting task opens
    assert states(service)[sample[0]] == "done"
    assert opened(service) == sample[1 : MAX_OPEN + 1]
    assert service.rows(agreement_batches)[0]["sample_done"] == 1  # figures of a partial sample as before

    for _ in range(len(sample)):  # label whatever is open, as Label Studio would serve it
        if not (now_open := opened(service)):
            break
        rate_twice(service, now_open)
    assert set(states(service).values()) == {"done"}
    assert set(service.fake.overlaps) == set(sample)
    (batch,) = service.rows(agreement_batches)
    assert (batch["status"], batch["sample_done"]) == ("complete", 20)


def test_a_deleted_rating_reopens_a_done_task_and_the_bound_holds(store, settings):
    service = Service(store, settings)
    service.send(tasks_created(range(1, 201)))
    first = opened(service)[0]
    rate_twice(service, [first])
    assert states(service)[first] == "done"
    with store.read() as conn:  # the annotation ids the fake handed out: Ann's and Bea's of `first`
        from plugin.store.schema import annotations

        (bea_id,) = conn.execute(
            annotations.select().with_only_columns(annotations.c.id).where(
                annotations.c.task_id == first, annotations.c.annotator_id == BEA
            )
        ).scalars()  # fmt: skip
    service.send({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": bea_id}], "project": {"id": 1}})
    assert states(service)[first] == "set"
    assert len(opened(service)) == MAX_OPEN + 1  # reopened on top of the refill; no new one opens
    rate_twice(service, [opened(service)[1]])
    assert len(opened(service)) == MAX_OPEN


def test_the_open_set_spans_batches_oldest_batch_first(store, settings):
    service = Service(store, settings)
    service.send(tasks_created(range(1, 31)))  # sample of 3
    service.send(tasks_created(range(31, 131), created_at=T0 + timedelta(hours=1)))  # another import
    first, second = service.rows(agreement_batches)
    assert (first["sample_size"], second["sample_size"]) == (3, 10)
    older, newer = sampled_ids(service, first["id"]), sampled_ids(service, second["id"])
    assert opened(service) == older
    rate_twice(service, older[:2])
    assert opened(service) == [older[2], *newer[:2]]


def test_a_waiting_gold_copy_holds_the_refill_until_answered(store, settings):
    service = Service(store, settings)
    service.send(tasks_created(range(1, 201)))
    now = datetime.now(UTC)
    with store.begin() as conn:
        item = {"data": {"text": "g"}, "expert_result": [], "classes": [], "origin": "cli"}
        conn.execute(gold_items.insert().values(id=1, project_id=1, created_at=now, updated_at=now, **item))
        copy = {"item_id": 1, "task_id": 900, "annotator_id": ANN, "purpose": "regular", "state": "live"}
        conn.execute(
            gold_copies.insert().values(id=1, project_id=1, helper_annotation_ids=[], created_at=now, **copy)
        )
    first_open = opened(service)
    rate_twice(service, first_open[:1])
    assert opened(service) == first_open[1:]  # held: the copy is behind these two only
    with store.begin() as conn:  # a copy whose target stopped working holds no more
        conn.execute(gold_copies.update().values(created_at=now - timedelta(minutes=16)))
    rate_twice(service, first_open[1:2])
    assert len(opened(service)) == MAX_OPEN
    with store.begin() as conn:
        conn.execute(gold_copies.update().values(created_at=now))
    rate_twice(service, opened(service)[:1])
    assert len(opened(service)) == MAX_OPEN - 1  # held again
    with store.begin() as conn:
        conn.execute(gold_copies.update().values(state="answered"))
    service.send(service.label(ANN, 900, "bird"))  # the copy's answer (any event of the project)
    assert len(opened(service)) == MAX_OPEN


def test_several_bodies_of_one_import_form_one_batch(store, settings):
    service = Service(store, settings)
    bodies = [range(1, 5001), range(5001, 10001), range(10001, 12346)]  # Label Studio's 5,000 a body
    for ids in bodies:
        service.send(tasks_created(ids, created_at=T0))
    (batch,) = service.rows(agreement_batches)
    expected = sum(
        len(choose_sample(list(ids), 0.10, seed=batch_seed(SECRET, 1, list(ids)))) for ids in bodies
    )
    assert (batch["source"], batch["task_count"], batch["sample_size"]) == ("import", 12345, expected)
    assert len(opened(service)) == MAX_OPEN
    service.send(tasks_created(range(12346, 12400), created_at=T0 + timedelta(minutes=10)))  # a later import
    assert len(service.rows(agreement_batches)) == 2


def test_tasks_the_sync_recovered_form_batches_of_their_own(store, settings):
    service = Service(store, settings)
    service.send(tasks_created(range(1, 31)))
    service.send(tasks_created(range(31, 151), origin="sync"))  # no live TASKS_CREATED announced them
    rows = service.rows(agreement_batches)
    assert [(b["source"], b["task_count"]) for b in rows] == [("import", 30), ("sync", 50), ("sync", 50),
                                                              ("sync", 20)]  # fmt: skip
    service.send(tasks_created(range(31, 151), origin="sync"))  # the sync ran again: nothing new
    assert len(service.rows(agreement_batches)) == 4


def test_the_backlog_forms_batches_of_unbatched_tasks_only(store, settings):
    service = Service(store, settings)
    with store.begin() as conn:  # 120 tasks the sync found that existed before connect
        conn.execute(tasks.insert(), [{"id": i, "project_id": 1, "data": {}, "meta": {}, "seq": 0}
                                      for i in range(1, 121)])  # fmt: skip
    service.send(tasks_created(range(121, 141)))  # a live import
    policy = batch_policy(settings)
    formed = []
    while True:
        with store.begin() as conn:
            if (batch := sample_next_backlog_batch(conn, 1, policy)) is None:
                break
            formed.append(batch[1])
    assert formed == [50, 50, 20]
    rows = service.rows(agreement_batches)
    assert [b["source"] for b in rows] == ["import", "backlog", "backlog", "backlog"]
    assert len(service.rows(agreement_tasks)) == 140
    assert len(opened(service)) == MAX_OPEN  # the bound holds across all the project's batches
    assert refresh_open_sets(store, settings) == 0  # nothing done yet: nothing more to raise
