"""Issue 4's acceptance run: three simulated annotators label 900 real tasks through the labeling
UI's own calls while the service seeds, harvests and scores hidden gold in a real Label Studio.

Annotators work at speeds 1×, 2× and 3× with error rates 2 %, 40 % and 5 %. Like a person in the
UI, each holds their current task (and its lock) while "labeling", submits, and fetches the next
one at once. Gold answers are right or wrong by each annotator's error rate, drawn from their own
seeded stream, so the evidence is reproducible whatever order Label Studio serves things in.
"""

import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select

from plugin.store import Store
from plugin.store.schema import flags, gold_answers, gold_copies, gold_items, inbox, jobs

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text">
<Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/></Choices></View>"""
CLASSES = ("pos", "neg", "neutral")
N_REAL, N_GOLD = 900, 80
PROFILES = [(1, 0.02), (2, 0.40), (3, 0.05)]  # (speed, error rate)


def choice(value):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


class SimulatedAnnotator:
    def __init__(self, account, speed, error_rate, seed):
        self.account, self.speed, self.error_rate = account, speed, error_rate
        self.gold_rng, self.work_rng = random.Random(seed), random.Random(seed + 1000)
        self.current = None
        self.gold_seen: list[str] = []
        self.gold_truth: list[bool] = []
        self.real_done = 0

    @property
    def id(self):
        return self.account.id


@pytest.mark.timeout(1800)  # about 9 minutes on a quiet machine
def test_hidden_gold_over_900_tasks(sqlite_url, tmp_path):
    # A Label Studio of its own (about 10 s to start): every copy gets a helper skip per other member
    # of the organization, and the session's server has collected many from earlier tests.
    with LabelStudioServer() as ls_server:
        _simulate(ls_server, sqlite_url, tmp_path)


def _simulate(ls_server: LabelStudioServer, sqlite_url, tmp_path):
    project_id = ls_server.create_project("gold simulation", LABEL_CONFIG)
    real_ids = set(
        ls_server.import_tasks(project_id, [{"text": f"customer review {i}"} for i in range(N_REAL)])
    )
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\n",
    ).start()
    store = Store(sqlite_url)
    try:
        service.cli("connect", "--project", str(project_id), "--no-sync")
        expert = {f"customer review g{i}": CLASSES[i % 3] for i in range(N_GOLD)}
        now = datetime.now(UTC)
        with store.begin() as conn:
            for text, label in expert.items():
                conn.execute(
                    gold_items.insert().values(
                        project_id=project_id,
                        data={"text": text},
                        expert_result=choice(label),
                        classes=[label],
                        origin="cli",
                        created_at=now,
                        updated_at=now,
                    )
                )
        people = [
            SimulatedAnnotator(ls_server.create_annotator(), s, e, 100 + n)
            for n, (s, e) in enumerate(PROFILES)
        ]
        held: dict[int, int] = {}  # task id -> annotator id: the locks people hold right now
        done_real: set[int] = set()
        shapes: dict[str, set] = {"real": set(), "gold": set()}
        starved: list[tuple[int, int]] = []
        book = threading.Lock()

        def fetch(person):
            # Fetching and noting the lock happen together, so "free real tasks" is exact when a
            # stream says there is nothing left.
            with book:
                task = person.account.next_task(project_id)
                if task is None:
                    others = {t for t, a in held.items() if a != person.id}
                    if real_ids - done_real - others:
                        starved.append((person.id, len(real_ids - done_real - others)))
                else:
                    held[task["id"]] = person.id
            if task is not None:
                kind = "gold" if task["data"]["text"] in expert else "real"
                shapes[kind].add(
                    (tuple(sorted(task)), tuple(sorted(task["data"])), json.dumps(task["meta"] or {}))
                )
            person.current = task

        def submit(person):
            task = person.current
            text = task["data"]["text"]
            if text in expert:
                right = person.gold_rng.random() >= person.error_rate
                person.gold_seen.append(text)
                person.gold_truth.append(right)
                label = expert[text] if right else CLASSES[(CLASSES.index(expert[text]) + 1) % 3]
            else:
                assert task["id"] in real_ids
                person.real_done += 1
                label = person.work_rng.choice(CLASSES)
            person.account.submit(task["id"], choice(label), project_id=project_id)
            with book:
                if text not in expert:
                    done_real.add(task["id"])
                held.pop(task["id"], None)
            person.current = None

        def steps(person):
            """One round: a person at speed s finishes s tasks (the UI fetches the next at once)."""
            for _ in range(person.speed):
                if person.current is None:
                    fetch(person)
                if person.current is None:
                    return False
                submit(person)
                fetch(person)
            return True

        # People label at the same time, as in real life; rounds keep their paces at 1 : 2 : 3.
        idle_since = None
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            while len(done_real) < N_REAL or any(p.current for p in people):
                progressed = any(list(pool.map(steps, people)))
                if progressed:
                    idle_since = None
                    continue
                idle_since = idle_since or time.monotonic()
                assert time.monotonic() - idle_since < 120, "the stream stalled"
                time.sleep(0.3)  # copies still being made, or the last tasks locked by others

        def settled():
            # No event waiting (an answer just submitted may not have been processed yet: then it has
            # enqueued nothing either) and no job waiting.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with store.inbox_read() as conn:
                    waiting = conn.execute(select(inbox.c.id).where(inbox.c.status == "pending")).first()
                with store.read() as conn:
                    pending = conn.execute(select(jobs.c.id).where(jobs.c.status == "pending")).first()
                if not waiting and not pending:
                    return
                time.sleep(0.5)
            raise AssertionError("the service's jobs did not finish")

        # A copy that fell due on someone's last real task arrives after the real work is done:
        # people keep opening their stream until nothing is left for anyone.
        for _ in range(10):
            settled()
            answered = False
            for person in people:
                fetch(person)
                if person.current is not None:
                    submit(person)
                    answered = True
            if not answered:
                break
        settled()
        with store.read() as conn:
            answers = conn.execute(select(gold_answers)).mappings().all()
            copies = conn.execute(select(gold_copies)).mappings().all()
            flagged = {a for (a,) in conn.execute(select(flags.c.annotator_id))}
        report = service.cli("status", "--project", str(project_id), "--json").stdout
        api = {p["id"]: p for p in _annotators_api(service, project_id)}

        # Every gold copy reached its target and nobody else; no item twice for anyone.
        assert not [a for a in answers if a["purpose"] == "stray"]
        assert all(c["state"] == "deleted" for c in copies)
        for person in people:
            assert len(person.gold_seen) == len(set(person.gold_seen))
            mine = [a for a in answers if a["annotator_id"] == person.id]
            assert len(mine) == len(person.gold_seen)
            regular = sum(a["purpose"] == "regular" for a in mine)
            share = regular / person.real_done
            assert 0.03 <= share <= 0.05, (person.id, regular, person.real_done)
            assert api[person.id]["gold_share"] == pytest.approx(share)
        # Nothing in the next-task payload tells a copy apart.
        assert shapes["gold"] <= shapes["real"]
        assert not starved, f"'no more tasks' while real tasks remained: {starved}"
        # Afterwards the project and its export hold only the 900 real tasks.
        assert set(ls_server.list_task_ids(project_id)) == real_ids
        export = ls_server.admin.projects.exports.as_json(project_id)
        exported = json.loads(export) if isinstance(export, (str, bytes)) else export
        assert {t["id"] for t in exported} == real_ids
        assert not [a for t in exported for a in t["annotations"] if a["was_cancelled"]]
        assert json.loads(report)["tasks"] == N_REAL and json.loads(report)["annotations"] == N_REAL
        # The 40 % annotator is flagged and quizzed; the others never.
        bad = people[1]
        assert flagged == {bad.id}
        assert Counter(a["purpose"] for a in answers if a["annotator_id"] == bad.id)["quiz"] >= 1
        assert api[bad.id]["status"] in ("requalifying", "flagged")
        for person in (people[0], people[2]):
            assert api[person.id]["status"] == "ok"
        # Reported accuracies agree with the simulation's truth within their intervals.
        for person in people:
            figures = api[person.id]["accuracy"]
            assert figures["lower"] <= 1 - person.error_rate <= figures["upper"], (person.id, figures)
    finally:
        service.stop()
        store.dispose()


def _annotators_api(service, project_id):
    import requests
    from servicefixtures import API_TOKEN

    response = requests.get(
        f"{service.base_url}/api/v1/projects/{project_id}/annotators",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["annotators"]
