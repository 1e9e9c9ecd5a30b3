"""Relabeling wired to batch agreement and hidden gold, through the worker on both store engines:
disagreements become candidates, written-back corrections are nobody's regular work nor a second
rating, and the relabel project gets neither batches nor gold."""

import itertools
import json
from datetime import UTC, datetime

import pytest
from eventfactory import payload
from sqlalchemy import select

from plugin.agreement.compute import sample_pairs
from plugin.connect import connect_project
from plugin.gold.ledger import regular_work_done
from plugin.gold.review import suspect_annotation_ids
from plugin.relabel.candidates import (
    Candidate,
    RelabelSettings,
    collect_candidates,
    disagreement_candidates,
)
from plugin.relabel.guards import is_write_back
from plugin.relabel.jobs import _labelled_work as labelled_work
from plugin.relabel.queue import PUSHED, items_of, queue_candidates, update_item
from plugin.settings import load_settings
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import annotator_states, flags, gold_items, jobs, projects, users
from plugin.store.schema_agreement import agreement_batches, agreement_tasks
from plugin.store.schema_relabel import relabel_projects
from plugin.worker import Worker

LABEL_CONFIG = """<View><Image name="img" value="$image"/>
<Choices name="topics" toName="img" choice="multiple"><Choice value="x"/><Choice value="y"/></Choices>
<RectangleLabels name="box" toName="img"><Label value="Car"/><Label value="Van"/></RectangleLabels></View>"""
SOURCE, RELABEL = 1, 40
ANN, BEA, REV = 2, 3, 4
T0 = datetime(2000, 1, 1, tzinfo=UTC)


def topics(*values):
    return {"from_name": "topics", "to_name": "img", "type": "choices", "value": {"choices": list(values)}}


def box(x, label="Car"):
    value = {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": [label]}
    return {
        "id": f"r{x}",
        "from_name": "box",
        "to_name": "img",
        "type": "rectanglelabels",
        "value": value,
        "original_width": 100,
        "original_height": 100,
    }


def make_settings(store_url, gold=True, agreement=True):
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    settings = load_settings(None, env=env)
    return type(settings)(dict(settings.items()) | {"gold.enabled": gold, "agreement.enabled": agreement})


class Harness:
    """Events go through the worker; jobs stay queued (no Label Studio here) unless a test runs them."""

    def __init__(self, store, settings):
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
                # a gold library in both: only the source project may use it
                conn.execute(
                    gold_items.insert().values(
                        project_id=pid, data={"image": "g.png"}, expert_result=[topics("x")], classes=["x"],
                        origin="cli", created_at=now, updated_at=now,
                    )
                )  # fmt: skip
            conn.execute(
                relabel_projects.insert().values(
                    source_project_id=SOURCE,
                    relabel_project_id=RELABEL,
                    created_by_service=True,
                    created_at=now,
                )
            )
            conn.execute(
                users.insert(), [{"id": ANN, "email": "ann@x.org"}, {"id": BEA, "email": "bea@x.org"}]
            )

    def send(self, *bodies):
        events = [InboxEvent(f"k{next(self.keys)}", b["action"], 1, json.dumps(b)) for b in bodies]
        with self.store.inbox_begin() as conn:
            append_events(conn, events)
        self.worker.drain()

    def import_tasks(self, ids, project=SOURCE):
        body = payload("TASKS_CREATED")
        template = {**body["tasks"][0], "project": project}
        body["tasks"] = [{**template, "id": i, "data": {"image": f"{i}.png"}} for i in ids]
        body["project"]["id"] = project
        self.send(body)

    def label(self, user, task_id, result, project=SOURCE):
        """An annotation event's body; returns (body, annotation id)."""
        body = payload("ANNOTATION_CREATED")
        annotation_id = next(self.annotation_ids)
        body["annotation"].update(
            id=annotation_id, task=task_id, completed_by=user, result=result, project=project
        )
        body["annotation"]["was_cancelled"] = False
        body["task"].update(id=task_id, project=project)
        body["project"]["id"] = project
        return body, annotation_id

    def rows(self, table, *where):
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]

    def sample(self):
        rows = self.rows(agreement_tasks, agreement_tasks.c.sampled)
        return sorted(r["task_id"] for r in rows)

    def batch(self):
        (batch,) = self.rows(agreement_batches, agreement_batches.c.project_id == SOURCE)
        return batch

    def copy_jobs(self, user, project=SOURCE):
        return self.rows(
            jobs, jobs.c.kind == "create_copy", jobs.c.dedupe_key.like(f"copy:{project}:{user}:%")
        )


@pytest.fixture
def harness(store, store_url):
    return Harness(store, make_settings(store_url, gold=False))


def test_disagreeing_sample_pairs_become_candidates_once(harness, store):
    harness.import_tasks(range(1, 51))
    agree, choices, label, unmatched, shifted = harness.sample()
    same = [topics("x", "y"), box(10)]
    pairs = {  # task: (first rater and result, second rater and result)
        agree: ((ANN, same), (BEA, same)),
        choices: ((ANN, [topics("x"), box(10)]), (BEA, same)),  # different choice sets
        label: ((ANN, same), (BEA, [topics("x", "y"), box(10, "Van")])),  # the box's label differs
        unmatched: ((BEA, [topics("x", "y")]), (ANN, same)),  # a box only Ann drew; Bea labelled first
        shifted: ((ANN, same), (BEA, [topics("y", "x"), box(11)])),  # same box, a little off: agreement
    }
    first = {task: harness.label(one[0], task, one[1]) for task, (one, _) in pairs.items()}
    harness.send(*(body for body, _ in first.values()))
    harness.send(*(harness.label(two[0], task, two[1])[0] for task, (_, two) in pairs.items()))
    assert harness.batch()["status"] == "complete"

    with store.read() as conn:
        found = disagreement_candidates(conn, SOURCE, RelabelSettings())
        assert [
            c for c in collect_candidates(conn, SOURCE, RelabelSettings()) if c.reason_kind == "disagreement"
        ] == found
    by_task = {c.source_task_id: c for c in found}
    assert sorted(by_task) == sorted([choices, label, unmatched])
    for task, c in by_task.items():  # the earlier annotation is questioned, and pre-filled
        (rater, result), _ = pairs[task]
        assert (c.annotation_id, c.annotator_id, c.prefill) == (first[task][1], rater, result)
        assert c.reason.startswith(f"batch {harness.batch()['id']}: ann@x.org and bea@x.org disagree (")
    assert by_task[choices].reason.endswith("disagree ('(none)' vs 'topics: y')")  # Ann, then Bea
    assert by_task[label].reason.endswith("disagree ('box: Car' vs 'box: Van')")
    assert by_task[unmatched].reason.endswith("disagree ('box: Car' vs '(none)')")

    with store.begin() as conn:
        assert len(queue_candidates(conn, SOURCE, found)) == 3
        assert queue_candidates(conn, SOURCE, disagreement_candidates(conn, SOURCE, RelabelSettings())) == []
        assert [i["reason_kind"] for i in items_of(conn, SOURCE)] == ["disagreement"] * 3


def test_a_written_back_correction_is_no_regular_work_and_no_second_rating(store, store_url):
    harness = Harness(store, make_settings(store_url))
    harness.import_tasks(range(1, 51))
    suspect, other, *_ = harness.sample()
    body, ann_id = harness.label(ANN, suspect, [topics("x")])
    harness.send(body)
    with store.begin() as conn:  # Ann's work is queued and pushed to the relabel project as task 900
        (item_id,) = queue_candidates(conn, SOURCE, [Candidate(suspect, ann_id, ANN, "flagged", "why", [])])
        update_item(conn, item_id, status=PUSHED, relabel_project_id=RELABEL, relabel_task_id=900)

    review, review_id = harness.label(REV, 900, [topics("y")], project=RELABEL)
    harness.send(review)
    (job,) = harness.rows(jobs, jobs.c.kind == "relabel_write_back")
    assert job["status"] == "pending"
    # Label Studio reports the write-back before the job could record its annotation id
    write_back, written_id = harness.label(REV, suspect, [topics("y")])
    harness.send(write_back)
    with store.read() as conn:
        assert is_write_back(conn, suspect, REV, written_id) and is_write_back(conn, suspect, REV)
        assert not is_write_back(conn, suspect, REV, review_id)  # anything they did before reviewing
        assert not is_write_back(conn, suspect, ANN, ann_id)
        assert regular_work_done(conn, SOURCE, REV) == 0
        assert [p.task_id for p in sample_pairs(conn, harness.batch())] == []
    assert harness.batch()["sample_done"] == 0
    assert harness.rows(annotator_states, annotator_states.c.annotator_id == REV) == []
    assert harness.copy_jobs(REV) == []
    with store.begin() as conn:  # the job recorded it: still not work, nor a record to question again
        update_item(conn, item_id, written_annotation_id=written_id)
        assert regular_work_done(conn, SOURCE, REV) == 0
        flag = {"project_id": SOURCE, "annotator_id": REV, "status": "flagged", "evidence": {}}
        conn.execute(flags.insert().values(raised_at=T0, decline_started_at=T0, **flag))
        assert suspect_annotation_ids(conn, SOURCE, REV) == []
        assert written_id not in {row["id"] for row in labelled_work(conn, SOURCE)}

    # The same people's real work counts: Bea's rating completes the pair, the reviewer's own work
    # starts their gold schedule.
    own, own_id = harness.label(REV, other, [topics("x")])
    harness.send(harness.label(BEA, suspect, [topics("x")])[0], own)
    assert harness.batch()["sample_done"] == 1
    with store.read() as conn:
        assert [(p.first_annotator, p.second_annotator) for p in sample_pairs(conn, harness.batch())] == [
            (ANN, BEA)
        ]
        assert regular_work_done(conn, SOURCE, REV) == 1
        assert suspect_annotation_ids(conn, SOURCE, REV) == [own_id]
    assert len(harness.copy_jobs(REV)) == 1


def test_the_relabel_project_only_drives_the_write_back(store, store_url):
    harness = Harness(store, make_settings(store_url))  # named, connected, with gold: still excluded
    harness.import_tasks([900, 901], project=RELABEL)
    harness.import_tasks(range(1, 11))
    assert [b["project_id"] for b in harness.rows(agreement_batches)] == [SOURCE]
    with store.begin() as conn:
        (item_id,) = queue_candidates(conn, SOURCE, [Candidate(5, None, None, "boundary", "why", [])])
        update_item(conn, item_id, status=PUSHED, relabel_project_id=RELABEL, relabel_task_id=900)
    harness.send(harness.label(REV, 900, [topics("y")], project=RELABEL)[0])
    harness.send(harness.label(REV, 901, [topics("y")], project=RELABEL)[0])  # not one of our items
    assert [j["dedupe_key"] for j in harness.rows(jobs, jobs.c.kind == "relabel_write_back")] == [
        f"relabel_write_back:{item_id}"
    ]
    assert harness.copy_jobs(REV, RELABEL) == []
    assert harness.rows(annotator_states, annotator_states.c.project_id == RELABEL) == []
    # the control: the same annotation in the source project does start a gold schedule
    harness.send(harness.label(REV, 3, [topics("y")])[0])
    assert len(harness.copy_jobs(REV)) == 1


@pytest.mark.parametrize(("gold", "agreement"), [(True, False), (False, True)])
def test_gold_and_agreement_each_work_without_the_other(store, store_url, gold, agreement):
    settings = make_settings(store_url, gold=gold, agreement=agreement)
    harness = Harness(store, settings)
    harness.import_tasks(range(1, 21))
    sampled = harness.sample()
    assert len(sampled) == (2 if agreement else 0)
    harness.send(*(harness.label(user, t, [topics("x")])[0] for t in sampled or [1] for user in (ANN, BEA)))
    assert len(harness.copy_jobs(ANN)) == int(gold)
    if agreement:
        assert harness.batch()["status"] == "complete"
    else:
        assert harness.rows(agreement_batches) == []

    class Fake:
        def __init__(self):
            self.updates = []

        def server_info(self):
            from plugin.labelstudio import ServerInfo

            return ServerInfo("1.23.2", "Community")

        def whoami(self):
            return {"id": 1, "email": "qa@x.org"}

        def get_project(self, pid):
            return {"id": pid, "title": "p", "label_config": LABEL_CONFIG, "show_overlap_first": False}

        def update_project(self, pid, **fields):
            self.updates.append(fields)
            return {**self.get_project(pid), **fields}

        def list_webhooks(self, pid):
            return []

        def create_webhook(self, pid, **fields):
            return {"id": 7, **fields}

    fake = Fake()
    connect_project(settings, store, fake, 5)  # type: ignore[arg-type]
    assert fake.updates == [{"show_overlap_first": True}]
    neither = make_settings(store_url, gold=False, agreement=False)
    fake = Fake()
    connect_project(neither, store, fake, 6)  # type: ignore[arg-type]
    assert fake.updates == []
