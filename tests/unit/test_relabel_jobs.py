"""The relabel jobs against a fake Label Studio: what is sent, what is recorded, what a retry redoes."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from plugin.jobs import Job, RetryLater
from plugin.labelstudio import LabelStudioError
from plugin.records import Changes, ProjectRecord, TaskRecord
from plugin.relabel.candidates import Candidate
from plugin.relabel.engine import ITEM_META_KEY
from plugin.relabel.jobs import RelabelJobs, with_reason_header
from plugin.relabel.queue import items_of, queue_candidates, update_item, written_back_annotation_ids
from plugin.settings import load_settings
from plugin.store import Store
from plugin.store.domain import apply_changes
from plugin.store.schema import jobs
from plugin.store.schema_relabel import relabel_projects
from webhooks.app import create_app

PROJECT = 3
CONFIG = """<View>
  <Text name="t" value="$text"/>
  <Choices name="s" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
POS = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["pos"]}}]
NEG = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["neg"]}}]
ENV = {
    "LABEL_STUDIO_URL": "http://127.0.0.1:1",
    "LABEL_STUDIO_API_KEY": "k",
    "LSQA_WEBHOOK_SECRET": "0123456789abcdef",
    "LSQA_API_TOKEN": "api-token",
}


class FakeLabelStudio:
    def __init__(self) -> None:
        self.projects: dict[int, dict] = {}
        self.imports: list[tuple[int, list[dict]]] = []
        self.hooks: list[dict] = []
        self.annotations: list[dict] = []
        self.meta = {11: {"keep": 1}}
        self.fail_meta_update = False
        self.lose_import_answer = False  # the next import takes effect, but its answer is lost
        self.lookups: list[tuple[int, str, list]] = []

    def create_project(self, title, label_config, **fields):
        project = {"id": 100 + len(self.projects), "title": title, "label_config": label_config, **fields}
        self.projects[project["id"]] = project
        return project

    def get_project(self, project_id):
        return self.projects[project_id]

    def update_project(self, project_id, **fields):
        self.projects[project_id].update(fields)
        return self.projects[project_id]

    def list_webhooks(self, project_id):
        return [h for h in self.hooks if h["project"] == project_id]

    def create_webhook(self, project_id, *, url, headers, actions):
        self.hooks.append({"id": len(self.hooks) + 1, "project": project_id, "url": url})
        return self.hooks[-1]

    def import_tasks(self, project_id, tasks):
        self.imports.append((project_id, tasks))
        if self.lose_import_answer:
            self.lose_import_answer = False
            raise LabelStudioError("connection dropped after sending", maybe_applied=True)
        return self._ids_of(len(self.imports))

    def _ids_of(self, import_number):
        return [1000 + 10 * import_number + i for i in range(len(self.imports[import_number - 1][1]))]

    def tasks_marked(self, project_id, key, values, since):
        self.lookups.append((project_id, key, list(values)))
        found = {}
        for n, (target, tasks) in enumerate(self.imports, start=1):
            for task, task_id in zip(tasks, self._ids_of(n), strict=True):
                if target == project_id and task["meta"].get(key) in values:
                    found[task["meta"][key]] = task_id
        return found

    def create_annotation(self, task_id, *, result, completed_by=None):
        self.annotations.append({"id": 500 + len(self.annotations), "task": task_id, "by": completed_by})
        return self.annotations[-1]

    def get_task(self, task_id):
        return {"id": task_id, "meta": dict(self.meta.get(task_id, {}))}

    def update_task(self, task_id, **fields):
        if self.fail_meta_update:
            raise LabelStudioError("Label Studio is down")
        self.meta[task_id] = fields["meta"]
        return {"id": task_id}

    def close(self):
        pass


@pytest.fixture
def store(sqlite_url):
    store = Store(sqlite_url)
    store.migrate()
    changes = Changes(
        projects=[ProjectRecord(PROJECT, "reviews", CONFIG)],
        tasks=[TaskRecord(t, PROJECT, {"text": f"text {t}"}, {}) for t in (10, 11)],
    )
    with store.begin() as conn:
        apply_changes(conn, changes, 2)
        queue_candidates(conn, PROJECT, [Candidate(t, 40 + t, 7, "flagged", "why", NEG) for t in (10, 11)])
    yield store
    store.dispose()


def run(store, runner, kind, payload):
    with store.begin() as conn:
        job_id = conn.execute(
            jobs.insert()
            .values(
                dedupe_key=f"{kind}:{payload}",
                kind=kind,
                payload=payload,
                status="pending",
                attempts=0,
                run_after=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
            .returning(jobs.c.id)
        ).scalar_one()
    runner.handlers()[kind](Job(job_id, kind, PROJECT, payload, 0))


def test_push_creates_the_relabel_project_once_and_sends_reason_and_prediction(store):
    fake = FakeLabelStudio()
    runner = RelabelJobs(store, lambda: fake, load_settings(None, env=ENV))
    run(store, runner, "relabel_push", {"project_id": PROJECT})
    run(store, runner, "relabel_push", {"project_id": PROJECT, "again": True})
    (project,) = fake.projects.values()
    assert '<Header value="$lsqa_reason"/>' in project["label_config"]
    assert project["model_version"] == "lsqa-relabel" and project["title"] == "reviews - relabel"
    assert [h["project"] for h in fake.hooks] == [project["id"]]
    ((target, tasks),) = fake.imports  # the second run had nothing left to push
    assert target == project["id"]
    assert tasks[0]["data"] == {"text": "text 10", "lsqa_reason": "why"}
    assert tasks[0]["predictions"] == [{"model_version": "lsqa-relabel", "result": NEG}]
    with store.read() as conn:
        items = items_of(conn, PROJECT)
        known = conn.execute(select(relabel_projects)).mappings().one()
    assert [(i["status"], i["relabel_task_id"]) for i in items] == [("pushed", 1010), ("pushed", 1011)]
    assert (known["relabel_project_id"], known["webhook_id"]) == (project["id"], 1)
    assert fake.lookups == []  # nothing was sent before: no look-up


def test_push_after_a_lost_import_answer_imports_only_what_is_missing(store):
    """Label Studio took the first import but its answer was lost: the next push (the job's retry, or
    the next slot's job) finds those tasks by the item id in their meta and imports only a new item."""
    fake = FakeLabelStudio()
    fake.lose_import_answer = True
    runner = RelabelJobs(store, lambda: fake, load_settings(None, env=ENV))
    with pytest.raises(RetryLater):
        run(store, runner, "relabel_push", {"project_id": PROJECT})
    with store.read() as conn:
        sent = items_of(conn, PROJECT)
    (target,) = fake.projects
    assert [(i["status"], i["relabel_project_id"], i["relabel_task_id"]) for i in sent] == [
        ("queued", target, None),
        ("queued", target, None),
    ]
    with store.begin() as conn:
        (new,) = queue_candidates(conn, PROJECT, [Candidate(10, 60, 8, "systematic", "again", NEG)])
    run(store, runner, "relabel_push", {"project_id": PROJECT, "slot": 2})
    assert [[t["meta"][ITEM_META_KEY] for t in tasks] for _, tasks in fake.imports] == [
        [sent[0]["id"], sent[1]["id"]],
        [new],
    ]
    assert fake.lookups == [(target, ITEM_META_KEY, [sent[0]["id"], sent[1]["id"]])]
    with store.read() as conn:
        items = items_of(conn, PROJECT)
    assert [(i["id"], i["status"], i["relabel_task_id"]) for i in items] == [
        (sent[0]["id"], "pushed", 1010),
        (sent[1]["id"], "pushed", 1011),
        (new, "pushed", 1020),
    ]


def test_write_back_keeps_the_meta_and_does_not_annotate_twice_after_an_outage(store):
    fake = FakeLabelStudio()
    fake.fail_meta_update = True
    runner = RelabelJobs(store, lambda: fake, load_settings(None, env=ENV))
    with store.begin() as conn:
        item_id = items_of(conn, PROJECT)[1]["id"]
        update_item(
            conn,
            item_id,
            status="pushed",
            corrected_result=POS,
            corrected_by=12,
            corrected_at=datetime.now(UTC),
            review_annotation_id=900,
        )
    with pytest.raises(Exception, match="down"):  # the worker postpones the job (RetryLater)
        run(store, runner, "relabel_write_back", {"item_id": item_id})
    fake.fail_meta_update = False
    run(store, runner, "relabel_write_back", {"item_id": item_id, "retry": 1})
    assert fake.annotations == [{"id": 500, "task": 11, "by": 12}]
    assert fake.meta[11]["keep"] == 1 and fake.meta[11]["relabeled"] is True
    assert fake.meta[11]["relabel"][0]["replaces"] == 51
    with store.read() as conn:
        item = items_of(conn, PROJECT)[1]
        assert written_back_annotation_ids(conn, PROJECT) == {500}
    assert (item["status"], item["written_annotation_id"]) == ("corrected", 500)


def test_reason_header_goes_inside_the_root_view():
    assert with_reason_header('<View style="x"><Text name="t" value="$t"/></View>').startswith(
        '<View style="x">\n  <Header value="$lsqa_reason"/><Text'
    )


def test_relabel_api_answers_the_contract_and_404_for_unknown_projects(store, sqlite_url):
    app = create_app(load_settings(None, env={**ENV, "LSQA_DATABASE_URL": sqlite_url}), store=store)
    try:
        client = app.test_client()
        auth = {"Authorization": "Bearer api-token"}
        assert client.get("/api/v1/projects/999/relabel", headers=auth).status_code == 404
        body = client.get(f"/api/v1/projects/{PROJECT}/relabel", headers=auth).get_json()
    finally:
        app.extensions["lsqa"]["writer"].close()
    assert body["project_id"] == PROJECT and body["relabel_project_id"] is None
    assert set(body["items"][0]) == {
        "id",
        "source_task_id",
        "annotation_id",
        "annotator_id",
        "reason",
        "status",
        "relabel_task_id",
        "queued_at",
        "corrected_at",
        "corrected_by",
        "gold_verified",
        # the dashboard's way back into Label Studio (docs/dashboard.md)
        "annotator_name",
        "corrected_by_name",
        "reason_text",
        "url",
        "relabel_url",
    }
    assert body["items"][0]["status"] == "queued" and body["items"][0]["queued_at"].endswith("+00:00")
