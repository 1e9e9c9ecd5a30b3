"""A fake Label Studio adapter and a simulated annotation stream for the gold engine's unit tests."""

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from eventfactory import annotation_event
from sqlalchemy import select

from plugin.jobs import run_due_jobs
from plugin.settings import load_settings
from plugin.store.inbox import InboxEvent, append_events
from plugin.store.schema import gold_copies, gold_items, projects
from plugin.worker import Worker

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
SERVICE, GOOD, BAD = 1, 2, 3
API_TOKEN = "api-token-0123456789"


class FakeLabelStudio:
    """Records what the injector asks of Label Studio; hands out ids like it would."""

    def __init__(self, edition: str = "Community", members=(SERVICE, GOOD, BAD)) -> None:
        self.edition = edition
        self.members = list(members)
        self.calls: list[str] = []  # every call Label Studio would see, by verb
        self.assigned: dict[int, list[int]] = {}
        self.paused: list[tuple[int, int]] = []
        self.ids = itertools.count(10_000)
        self.tasks: dict[int, dict] = {}  # every task ever made (deleted ones stay, for inspection)
        self.live: set[int] = set()  # the tasks Label Studio still has
        self.helper_skips: list[tuple[int, int]] = []
        self.deleted: list[int] = []
        self.imports_lose_skips = 0  # how many of the next imports come back without their skips
        self.patches: list[tuple[int, dict]] = []
        self.skips_posted_while_hidden = 0
        self.down = False

    def _check(self, verb: str) -> None:
        self.calls.append(verb)
        if self.down:
            from plugin.labelstudio import LabelStudioError

            raise LabelStudioError("cannot reach Label Studio (fake outage)")

    def whoami(self):
        return {"id": SERVICE}

    def server_info(self):
        from plugin.labelstudio import ServerInfo

        return ServerInfo("1.23.2", self.edition)

    def assign_task(self, project_id, task_id, user_ids):
        self._check("assign_task")
        self.assigned[task_id] = list(user_ids)

    def pause_annotator(self, project_id, user_id, reason):
        self._check("pause_annotator")
        self.paused.append((project_id, user_id))

    def list_users(self):
        self._check("list_users")
        return [{"id": i} for i in self.members]

    def create_task(self, project_id, data):
        self._check("create_task")
        task_id = next(self.ids)
        self.tasks[task_id] = {"project": project_id, "data": data, "overlap": 1}
        self.live.add(task_id)
        return {"id": task_id}

    def import_task_skipped_by(self, project_id, data, user_ids):
        self._check("import_task_skipped_by")
        task_id = next(self.ids)
        self.tasks[task_id] = {"project": project_id, "data": data, "overlap": 1}
        self.live.add(task_id)
        if self.imports_lose_skips:  # Label Studio on SQLite, an annotation submitted meanwhile
            self.imports_lose_skips -= 1
        else:
            self.helper_skips += [(task_id, u) for u in user_ids]
        return task_id

    def get_task(self, task_id):
        self._check("get_task")
        if task_id not in self.live:
            from plugin.labelstudio import LabelStudioError

            raise LabelStudioError("404 Not Found", 404)
        return {"id": task_id, **self.tasks[task_id]}

    def create_annotation(self, task_id, *, result, completed_by=None, was_cancelled=False, lead_time=None):
        self._check("create_annotation")
        if self.tasks.get(task_id, {}).get("overlap") == 0:
            self.skips_posted_while_hidden += 1
        self.helper_skips.append((task_id, completed_by))
        return {"id": next(self.ids)}

    def update_task(self, task_id, **fields):
        self._check("update_task")
        self.patches.append((task_id, dict(fields)))
        self.tasks[task_id].update(fields)
        # As Label Studio's PATCH answers: the whole task, with its annotations (completed_by as an id).
        skips = [
            {"completed_by": u, "was_cancelled": True, "result": []}
            for t, u in self.helper_skips
            if t == task_id
        ]
        return {"id": task_id, **self.tasks[task_id], "annotations": skips}

    def delete_task(self, task_id):
        self._check("delete_task")
        self.deleted.append(task_id)
        existed = task_id in self.live
        self.live.discard(task_id)
        return existed


@pytest.fixture
def settings(store_url, tmp_path):
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "gold:\n  rate: 0.1\n  onboarding_items: 2\n  quiz_items: 5\napi:\n  token: " + API_TOKEN + "\n"
    )
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(config, env=env)


@pytest.fixture
def project(store):
    now = datetime.now(UTC)
    with store.begin() as conn:
        conn.execute(
            projects.insert().values(id=1, title="p", label_config=LABEL_CONFIG, connected=True, seq=0)
        )
        for i in range(40):
            conn.execute(
                gold_items.insert().values(
                    project_id=1,
                    data={"text": f"gold {i}"},
                    expert_result=choice("pos" if i % 2 else "neg"),
                    classes=["pos" if i % 2 else "neg"],
                    origin="cli",
                    created_at=now,
                    updated_at=now,
                )
            )
    return 1


def choice(value):
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


class Simulation:
    def __init__(self, store, settings, edition="Community", members=(SERVICE, GOOD, BAD)):
        self.store, self.fake = store, FakeLabelStudio(edition, members)
        self.worker = Worker(store, settings, adapter_factory=lambda: self.fake)
        self.annotation_ids = itertools.count(1)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.keys = itertools.count()

    def send(self, body):
        body["annotation"]["created_at"] = self.clock.isoformat()
        self.clock += timedelta(minutes=1)
        with self.store.inbox_begin() as conn:
            append_events(conn, [InboxEvent(f"k{next(self.keys)}", body["action"], 1, json.dumps(body))])
        self.worker.drain()
        while run_due_jobs(self.store, self.worker.job_handlers):
            self.worker.drain()

    def label(self, user, task_id, value, cancelled=False):
        body = annotation_event(next(self.annotation_ids), task_id, user, choice=value, cancelled=cancelled)
        body["annotation"]["result"] = [] if cancelled else choice(value)
        self.send(body)

    def copy_waiting_for(self, user):
        with self.store.read() as conn:
            row = conn.execute(
                select(gold_copies.c.task_id, gold_copies.c.item_id).where(
                    gold_copies.c.annotator_id == user, gold_copies.c.state == "live"
                )
            ).first()
        return row

    def answer_gold(self, user, wrong_rate, rng):
        row = self.copy_waiting_for(user)
        if row is None:
            return False
        with self.store.read() as conn:
            expert = conn.execute(
                select(gold_items.c.expert_result).where(gold_items.c.id == row.item_id)
            ).scalar_one()
        right = expert[0]["value"]["choices"][0]
        other = "neg" if right == "pos" else "pos"
        self.label(user, row.task_id, other if rng.random() < wrong_rate else right)
        return True


def run(sim, tasks_per_user=150):
    wrong = {GOOD: 0.0, BAD: 0.6}
    rng = random.Random(3)
    task_ids = itertools.count(1)
    for _ in range(tasks_per_user):
        for user in (GOOD, BAD):
            sim.answer_gold(user, wrong[user], rng)
            sim.label(user, next(task_ids), "pos")
    for user in (GOOD, BAD):
        while sim.answer_gold(user, wrong[user], rng):
            pass
