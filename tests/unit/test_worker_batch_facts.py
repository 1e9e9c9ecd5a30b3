"""The worker's batch cache (plugin.batch_facts), on both engines: a fact changed by an event is
seen by the events after it in the same batch, and a rolled-back group leaves nothing stale.

Each test sends its events in one batch (one ``send``), with the fact read before it changes."""

import itertools
import json
from datetime import UTC, datetime

import pytest
from eventfactory import annotation_event, payload
from sqlalchemy import select
from workerfaults import install_fault, make_settings

from plugin.relabel.candidates import Candidate
from plugin.relabel.queue import PUSHED, queue_candidates, update_item
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import annotator_states, gold_items, jobs, projects
from plugin.store.schema_agreement import agreement_batches
from plugin.store.schema_relabel import relabel_projects
from plugin.worker import Worker

LABEL_CONFIG = """<View><Text name="text" value="$text"/><Choices name="label" toName="text">
<Choice value="pos"/><Choice value="neg"/></Choices></View>"""
SOURCE, RELABEL = 1, 40
EXPERT, ANN, BEA, REV = 9, 2, 3, 4


@pytest.fixture
def settings(store_url, tmp_path):
    settings = make_settings(store_url, tmp_path)
    return type(settings)(
        dict(settings.items()) | {"agreement.sample_rate": 1, "agreement.max_open_samples": 0}
    )


class Service:
    """Events go through the worker in one batch per ``send``; jobs stay queued (no Label Studio)."""

    def __init__(self, store, settings, *, gold=False):
        self.store = store
        self.worker = Worker(store, settings, adapter_factory=lambda: pytest.fail("no Label Studio here"))
        self.keys = itertools.count()
        self.annotation_ids = itertools.count(1)
        now = datetime.now(UTC)
        with store.begin() as conn:
            for pid in (SOURCE, RELABEL):
                conn.execute(
                    projects.insert().values(id=pid, label_config=LABEL_CONFIG, connected=True, seq=0)
                )
            conn.execute(
                relabel_projects.insert().values(
                    source_project_id=SOURCE,
                    relabel_project_id=RELABEL,
                    created_by_service=True,
                    created_at=now,
                )
            )
            if gold:
                conn.execute(
                    gold_items.insert().values(
                        project_id=SOURCE, data={"text": "g"}, expert_result=[], classes=["pos"],
                        origin="cli", created_at=now, updated_at=now,
                    )
                )  # fmt: skip

    def send(self, *bodies):
        events = [InboxEvent(f"k{next(self.keys)}", b["action"], 1, json.dumps(b)) for b in bodies]
        with self.store.inbox_begin() as conn:
            append_events(conn, events)
        assert self.worker.process_batch() == len(bodies)  # one batch

    def label(self, user, task_id, *, project=SOURCE, ground_truth=False):
        body = annotation_event(next(self.annotation_ids), task_id, user)
        body["annotation"].update(project=project, ground_truth=ground_truth)
        body["task"].update(project=project, data={"text": f"t{task_id}"})
        body["project"]["id"] = project
        return body

    def rows(self, table, *where):
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]

    def copy_jobs(self, user):
        return self.rows(
            jobs, jobs.c.kind == "create_copy", jobs.c.dedupe_key.like(f"copy:{SOURCE}:{user}:%")
        )

    def gold_started(self, user):
        """Whether the gold engine took this annotator's work as regular work (their state exists)."""
        return bool(self.rows(annotator_states, annotator_states.c.annotator_id == user))


def test_gold_made_by_ground_truth_earlier_in_the_batch_serves_later_annotators(store, settings):
    service = Service(store, settings)  # no gold yet
    service.send(
        service.label(BEA, 3),  # reads "no gold" for the project
        service.label(EXPERT, 1, ground_truth=True),  # the library's first item
        service.label(ANN, 2),
    )
    assert [i["source_task_id"] for i in service.rows(gold_items)] == [1]
    assert not service.gold_started(BEA)
    assert [j["dedupe_key"] for j in service.copy_jobs(ANN)] == [f"copy:{SOURCE}:{ANN}:onboarding:0"]


def test_ground_truth_unset_later_in_the_batch_retires_the_item_it_made(store, settings):
    service = Service(store, settings)
    marked = service.label(EXPERT, 1, ground_truth=True)  # task 1 was no item's source when read
    unmarked = json.loads(json.dumps(marked))
    unmarked["action"] = "ANNOTATION_UPDATED"
    unmarked["annotation"]["ground_truth"] = False
    service.send(marked, unmarked)
    (item,) = service.rows(gold_items)
    assert item["source_task_id"] == 1 and item["retired_at"] is not None


def test_a_sample_drawn_earlier_in_the_batch_counts_later_ratings(store, settings):
    service = Service(store, settings)
    tasks = payload("TASKS_CREATED")
    tasks["tasks"] = [{**tasks["tasks"][0], "id": i, "data": {"text": f"t{i}"}} for i in range(1, 5)]
    # the worker reads the annotated tasks' facts before reacting: task 1 is not sampled yet
    service.send(tasks, service.label(ANN, 1), service.label(BEA, 1))
    (batch,) = service.rows(agreement_batches)
    assert (batch["sample_size"], batch["sample_done"]) == (4, 1)


def test_a_correction_earlier_in_the_batch_makes_its_write_back_no_regular_work(store, settings):
    service = Service(store, settings, gold=True)
    with store.begin() as conn:  # task 7 was questioned and pushed to the relabel project as task 700
        (item_id,) = queue_candidates(conn, SOURCE, [Candidate(7, None, None, "flagged", "why", [])])
        update_item(conn, item_id, status=PUSHED, relabel_project_id=RELABEL, relabel_task_id=700)
    service.send(
        service.label(REV, 700, project=RELABEL),  # the review
        service.label(REV, 7),  # Label Studio's event for the write-back, before its job recorded the id
    )
    assert [j["kind"] for j in service.rows(jobs)] == ["relabel_write_back"]
    assert not service.gold_started(REV)
    service.send(service.label(REV, 8))  # the control: the reviewer's own work is regular work
    assert service.gold_started(REV)


@pytest.mark.parametrize("failing_first", [True, False], ids=["failing-first", "failing-last"])
def test_facts_read_in_a_rolled_back_group_are_read_again(store, settings, monkeypatch, failing_first):
    """The group fails, then its events are applied one by one (``Worker._apply_one_by_one``)."""
    service = Service(store, settings)  # no gold yet
    errors = install_fault(monkeypatch)
    ground_truth = service.label(EXPERT, 1, ground_truth=True)
    errors[ground_truth["annotation"]["id"]] = ValueError("a bug")  # after gold reacted: rolled back
    work = service.label(ANN, 2)
    service.send(*((ground_truth, work) if failing_first else (work, ground_truth)))
    assert service.rows(gold_items) == []
    assert not service.gold_started(ANN)  # the gold seen before the rollback is gone
