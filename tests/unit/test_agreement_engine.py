"""Batch agreement through the worker, on both store engines, with a fake of the Label Studio adapter."""

import itertools
import json
from dataclasses import asdict
from datetime import UTC, datetime

import pytest
from eventfactory import payload
from sqlalchemy import select

from plugin.agreement.compute import guideline_alert
from plugin.agreement.sampling import batch_seed, choose_sample
from plugin.jobs import run_due_jobs
from plugin.relabel.rules import kappa_alert_due
from plugin.settings import load_settings
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import alerts, gold_copies, gold_items, jobs, projects, users
from plugin.store.schema_agreement import agreement_batches, agreement_tasks
from plugin.worker import Worker
from webhooks.app import create_app

LABEL_CONFIG = """<View><Text name="text" value="$text"/><Choices name="animal" toName="text">
<Choice value="bird"/><Choice value="cat"/><Choice value="dog"/></Choices></View>"""
SERVICE, ANN, BEA = 1, 2, 3
SECRET = "x" * 16
API_TOKEN = "api-token-0123456789"


class FakeLabelStudio:
    def __init__(self):
        self.overlaps: dict[int, int] = {}
        self.skips: list[int] = []
        self.labelled: set[int] = set()  # tasks Label Studio reports as is_labeled

    def whoami(self):
        return {"id": SERVICE}

    def list_users(self):
        return [{"id": SERVICE, "email": "qa@x.org"}, {"id": ANN, "email": "ann@x.org"}, {"id": BEA}]

    def update_task(self, task_id, **fields):
        self.overlaps[task_id] = fields["overlap"]
        return {"id": task_id, "is_labeled": task_id in self.labelled, **fields}

    def create_annotation(self, task_id, *, result, completed_by=None, was_cancelled=False, lead_time=None):
        self.skips.append(task_id)
        return {"id": 1}


@pytest.fixture
def settings(store_url, tmp_path):
    config = tmp_path / "lsqa.yaml"
    # min_items 1: the 20-task sample is about the flow; plugin.relabel.rules has the evidence rule
    config.write_text(
        "gold:\n  enabled: false\nagreement:\n  bootstrap: 200\n  min_items: 1\n  max_open_samples: 0\n"
        f"api:\n  token: {API_TOKEN}\n"
    )
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": SECRET,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


class Service:
    def __init__(self, store, settings):
        self.store, self.fake = store, FakeLabelStudio()
        self.worker = Worker(store, settings, adapter_factory=lambda: self.fake)
        self.keys = itertools.count()
        self.annotation_ids = itertools.count(1)
        with store.begin() as conn:
            conn.execute(projects.insert().values(id=1, label_config=LABEL_CONFIG, connected=True, seq=0))
            conn.execute(
                users.insert(), [{"id": ANN, "email": "ann@x.org"}, {"id": BEA, "email": "bea@x.org"}]
            )

    def send(self, *bodies):
        events = [InboxEvent(f"k{next(self.keys)}", b["action"], 1, json.dumps(b)) for b in bodies]
        with self.store.inbox_begin() as conn:
            append_events(conn, events)
        self.worker.drain()
        while run_due_jobs(self.store, self.worker.job_handlers):
            self.worker.drain()

    def import_tasks(self, ids, data=None):
        body = payload("TASKS_CREATED")
        template = body["tasks"][0]
        body["tasks"] = [{**template, "id": i, "data": (data or {}).get(i, {"text": f"t{i}"})} for i in ids]
        self.send(body)

    def label(self, user, task_id, value, cancelled=False):
        """An annotation event's body (send several at once: fewer transactions)."""
        body = payload("ANNOTATION_CREATED")
        result = [] if cancelled else [
            {"from_name": "animal", "to_name": "text", "type": "choices", "value": {"choices": [value]}}
        ]  # fmt: skip
        body["annotation"].update(
            id=next(self.annotation_ids),
            task=task_id,
            completed_by=user,
            was_cancelled=cancelled,
            result=result,
        )
        body["task"]["id"] = task_id
        return body

    def rows(self, table, *where):
        with self.store.read() as conn:
            query = select(table).where(*where).order_by(*table.primary_key.columns)
            return [dict(r) for r in conn.execute(query).mappings()]


def sampled_ids(service, batch_id):
    rows = service.rows(agreement_tasks, agreement_tasks.c.batch_id == batch_id, agreement_tasks.c.sampled)
    return sorted(r["task_id"] for r in rows)


def test_an_import_is_a_batch_whose_sample_gets_overlap_and_figures(store, settings):
    service = Service(store, settings)
    now = datetime.now(UTC)
    with store.begin() as conn:  # a live gold copy (task 900) and one still being made (data "golden")
        item = {"project_id": 1, "expert_result": [], "classes": [], "origin": "cli"}
        for i, data in enumerate(({"text": "g0"}, {"text": "golden"})):
            conn.execute(
                gold_items.insert().values(id=i + 1, data=data, created_at=now, updated_at=now, **item)
            )
        copy = {"project_id": 1, "annotator_id": ANN, "purpose": "regular", "helper_annotation_ids": []}
        conn.execute(
            gold_copies.insert().values(item_id=1, task_id=900, state="live", created_at=now, **copy)
        )
        conn.execute(
            gold_copies.insert().values(item_id=2, task_id=None, state="creating", created_at=now, **copy)
        )
    service.fake.labelled.add(3)  # pretend someone labelled task 3 before its overlap was raised
    real = list(range(1, 201))
    service.import_tasks([*real, 900, 901], data={901: {"text": "golden"}})
    service.import_tasks(real[:10])  # a replayed event forms no second batch

    (batch,) = service.rows(agreement_batches)
    assert (batch["source"], batch["status"], batch["task_count"], batch["sample_size"]) == (
        "import", "sampling", 200, 20
    )  # fmt: skip
    sample = sampled_ids(service, batch["id"])
    assert sample == choose_sample(real, 0.10, seed=batch_seed(SECRET, 1, real))
    assert service.fake.overlaps == dict.fromkeys(sample, 2)
    assert service.fake.skips == ([3] if 3 in sample else [])
    assert batch["service_user_id"] == SERVICE

    # Ann and Bea label the sample: "dog" gets confused with "cat", "bird" is clean.
    answers = {t: ("bird", "cat", "dog")[i % 3] for i, t in enumerate(sample)}
    service.send(
        *(service.label(ANN, task_id, value) for task_id, value in answers.items()),
        *(service.label(SERVICE, task_id, "bird") for task_id in sample),  # our own account never counts
        *(service.label(BEA, task_id, "x", cancelled=True) for task_id in sample),  # nor does a skip
    )
    assert service.rows(agreement_batches)[0]["sample_done"] == 0
    *most, (last, value) = answers.items()
    service.send(
        *(service.label(BEA, t, "cat" if v == "dog" and i % 2 else v) for i, (t, v) in enumerate(most))
    )
    (batch,) = service.rows(agreement_batches)
    assert (batch["status"], batch["sample_done"], batch["figures"]) == ("sampling", 19, None)
    service.send(service.label(BEA, last, value))
    (batch,) = service.rows(agreement_batches)
    assert (batch["status"], batch["sample_done"]) == ("complete", 20)
    figures = batch["figures"]
    assert figures["tasks_compared"] == 20 and figures["method"] == "cohen"
    kappas = {c["label"]: c["kappa"] for c in figures["per_category"]}
    assert kappas["bird"] == 1.0 and kappas["dog"] < 0.75
    raised = {a["details"]["category"]: a for a in service.rows(alerts)}
    # Alerts follow the evidence rule (upper end of the interval below 0.75): 20 pairs prove nothing.
    due = {c["label"] for c in figures["per_category"] if kappa_alert_due(c, 0.75, 1)}
    assert set(raised) == due and "bird" not in due
    (dog,) = [c for c in figures["per_category"] if c["label"] == "dog"]
    with service.store.read() as conn:
        alert = asdict(guideline_alert(conn, batch, dog, 0.75))
    assert alert["kind"] == "agreement_low" and alert["details"]["batch"] == batch["id"]
    assert "cat / dog" in alert["details"]["most frequent confusions"]
    assert "ann@x.org (3 disagreements, gave 'dog' in 3)" in alert["details"]["annotators most involved"]
    assert {j["status"] for j in service.rows(jobs, jobs.c.kind == "send_alert")} <= {"done"}

    client = create_app(settings, store=store).test_client()
    assert client.get("/api/v1/projects/1/batches").status_code == 401
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.get("/api/v1/projects/2/batches", headers=auth).status_code == 404
    answer = client.get("/api/v1/projects/1/batches", headers=auth).get_json()
    assert answer["project_id"] == 1 and answer["kappa_threshold"] == 0.75
    (shown,) = answer["batches"]
    assert {k: shown[k] for k in ("id", "source", "task_count", "sample_size", "sample_done", "status")} == {
        "id": batch["id"], "source": "import", "task_count": 200, "sample_size": 20, "sample_done": 20,
        "status": "complete",
    }  # fmt: skip
    assert shown["kappa"] == figures["kappa"] and len(shown["kappa_ci"]) == 2
    assert shown["alpha"] == figures["alpha"] and shown["raw_agreement"] == figures["raw_agreement"]
    assert shown["pairwise_f1"] is None and shown["computed_at"] and shown["created_at"]
    assert {c["label"]: c["below_threshold"] for c in shown["per_category"]} == {
        "bird": False, "cat": kappas["cat"] < 0.75, "dog": True
    }  # fmt: skip
    assert set(shown["per_category"][0]) == {"label", "kappa", "ci", "n", "below_threshold"}
    assert shown["confusions"][0] == {"a": "cat", "b": "dog", "count": shown["confusions"][0]["count"]}

    service.send(
        {"action": "TASKS_DELETED", "tasks": [{"id": sample[0]}, {"id": 5000}], "project": {"id": 1}}
    )
    assert service.rows(agreement_batches)[0]["sample_size"] == 19


def test_a_task_the_service_created_never_forms_a_batch_even_once_its_copy_is_gone(store, settings):
    # A gold copy answered and deleted before its TASKS_CREATED is processed: no longer a live copy,
    # but the import's body still carries our creation marker in its meta.
    service = Service(store, settings)
    body = payload("TASKS_CREATED")
    template = body["tasks"][0]
    body["tasks"] = [
        {**template, "id": 950 + i, "data": {"text": f"gold {i}"}, "meta": {"lsqa_create": "0a1b"}}
        for i in range(2)
    ]
    service.send(body)
    assert service.rows(agreement_batches) == []
    service.import_tasks([1, 2, 3])  # real tasks still do
    assert [b["task_count"] for b in service.rows(agreement_batches)] == [3]


def test_every_n_mode_cuts_batches_of_n_new_tasks(store, settings, tmp_path):
    every = load_settings(
        None,
        env={
            "LABEL_STUDIO_URL": "http://127.0.0.1:1",
            "LABEL_STUDIO_API_KEY": "k",
            "LSQA_WEBHOOK_SECRET": SECRET,
        },
    )
    values = dict(every.items()) | {"agreement.batch_mode": "every_n", "agreement.batch_size": 50}
    service = Service(store, type(every)(values))
    service.import_tasks(range(1, 71))
    service.import_tasks(range(71, 121))
    batches = service.rows(agreement_batches)
    assert [(b["source"], b["status"], b["task_count"], b["sample_size"]) for b in batches] == [
        ("every_n", "sampling", 50, 5), ("every_n", "sampling", 50, 5), ("every_n", "filling", 0, 0)
    ]  # fmt: skip
    assert len(service.rows(agreement_tasks, agreement_tasks.c.batch_id == batches[2]["id"])) == 20
    assert len(service.fake.overlaps) == 10


def test_agreement_commands_list_and_refuse_an_unknown_batch(store, settings, tmp_path, capsys, monkeypatch):
    from plugin.cli import main

    Service(store, settings).import_tasks(range(1, 31))
    config = tmp_path / "cli.yaml"
    config.write_text(f"database:\n  url: {settings['database.url']}\ngold:\n  enabled: false\n")
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "k")
    monkeypatch.setenv("LSQA_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("LSQA_DATABASE_URL", raising=False)
    assert main(["--config", str(config), "agreement", "list", "-p", "1"]) == 0
    assert capsys.readouterr().out.startswith("batch 1 (import, ")
    assert main(["--config", str(config), "agreement", "compute", "-p", "1", "--batch", "9"]) == 2
    assert capsys.readouterr().err == "lsqa: project 1 has no batch 9\n"
    assert main(["--config", str(config), "agreement", "compute", "-p", "1"]) == 0
    assert capsys.readouterr().out == "batch 1: 0 tasks compared; no figures yet\n"
