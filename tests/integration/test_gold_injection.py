"""Hidden gold in a real Label Studio: targeted copies, harvested, scored and removed again."""

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select

from plugin.store import Store
from plugin.store.schema import gold_answers, gold_copies, gold_items, jobs

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
N_REAL, N_GOLD = 120, 30


def choice(value):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def add_gold(store: Store, project_id: int) -> dict[str, str]:
    """Gold items straight into the store; returns gold text -> expert answer."""
    now = datetime.now(UTC)
    answers = {f"a gold review number {i}": random.Random(i).choice(["pos", "neg"]) for i in range(N_GOLD)}
    with store.begin() as conn:
        for text, answer in answers.items():
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id,
                    source_project_id=None,
                    source_task_id=None,
                    data={"text": text},
                    expert_result=choice(answer),
                    classes=[answer],
                    origin="cli",
                    created_at=now,
                    updated_at=now,
                )
            )
    return answers


def wait_for(predicate, timeout=90, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_gold_copies_reach_only_their_target_and_leave_no_trace(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("gold injection", LABEL_CONFIG)
    real_ids = set(ls_server.import_tasks(project_id, [{"text": f"real review {i}"} for i in range(N_REAL)]))
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\n"
        "gold:\n  rate: 0.1\n  onboarding_items: 2\n",
    ).start()
    store = Store(sqlite_url)
    try:
        out = service.cli("connect", "--project", str(project_id), "--no-sync").stdout
        assert "show_overlap_first = true" in out
        expert = add_gold(store, project_id)
        annotators = [make_annotator() for _ in range(3)]
        wrong_rate = {annotators[0].id: 0.0, annotators[1].id: 0.5, annotators[2].id: 0.0}
        served: dict[int, list[str]] = {a.id: [] for a in annotators}
        real_done: Counter[int] = Counter()
        rng = random.Random(7)
        real_keys, gold_keys = set(), set()

        def step(annotator) -> bool:
            task = annotator.next_task(project_id)
            if task is None:
                return False
            text = task["data"]["text"]
            if text in expert:
                served[annotator.id].append(text)
                gold_keys.add((tuple(sorted(task["data"])), json.dumps(task.get("meta") or {})))
                wrong = rng.random() < wrong_rate[annotator.id]
                answer = expert[text] if not wrong else {"pos": "neg", "neg": "pos"}[expert[text]]
            else:
                assert task["id"] in real_ids
                real_done[annotator.id] += 1
                real_keys.add((tuple(sorted(task["data"])), json.dumps(task.get("meta") or {})))
                answer = rng.choice(["pos", "neg"])
            annotator.submit(task["id"], choice(answer), project_id=project_id)
            return True

        speeds = {annotators[0].id: 1, annotators[1].id: 2, annotators[2].id: 3}
        while sum(real_done.values()) < N_REAL:
            progressed = False
            for annotator in annotators:
                for _ in range(speeds[annotator.id]):
                    progressed = step(annotator) or progressed
            if not progressed:
                time.sleep(0.5)  # only copies in flight remain; let the worker catch up

        def no_pending_jobs():
            with store.read() as conn:
                return not conn.execute(select(jobs.c.id).where(jobs.c.status == "pending")).first()

        for _ in range(20):  # answer whatever gold is still waiting, until nothing is left
            wait_for(no_pending_jobs, what="the injector's jobs")
            if not any([step(a) for a in annotators]):
                break
        wait_for(no_pending_jobs, what="the last deletions")

        with store.read() as conn:
            copies = conn.execute(select(gold_copies)).mappings().all()
            answers = conn.execute(select(gold_answers)).mappings().all()
        assert copies, "no gold was seeded"
        assert all(c["state"] == "deleted" for c in copies)
        assert not [a for a in answers if a["purpose"] == "stray"], "a copy reached someone it was not for"
        assert Counter(a["annotator_id"] for a in answers) == Counter(
            {k: len(v) for k, v in served.items() if v}
        )
        for annotator_id, texts in served.items():
            assert len(texts) == len(set(texts)), f"annotator {annotator_id} saw a gold item twice"
            assert len(texts) >= 2  # at least the onboarding run
        assert gold_keys == real_keys, "a copy looks different from a real task in the next-task payload"
        by_annotator = {a.id: [x["passed"] for x in answers if x["annotator_id"] == a.id] for a in annotators}
        assert all(by_annotator[annotators[0].id]) and all(by_annotator[annotators[2].id])
        assert not all(by_annotator[annotators[1].id])
        regular = Counter(a["annotator_id"] for a in answers if a["purpose"] == "regular")
        for annotator in annotators:  # 10 % of their real work, give or take the last copy in flight
            assert abs(regular[annotator.id] - 0.1 * real_done[annotator.id]) <= 1.5, (regular, real_done)

        assert set(ls_server.list_task_ids(project_id)) == real_ids  # the project holds only real work
        export = ls_server.admin.projects.exports.as_json(project_id)
        exported = json.loads(export) if isinstance(export, (str, bytes)) else export
        assert {t["id"] for t in exported} == real_ids
        assert not [a for t in exported for a in t["annotations"] if a["was_cancelled"]]  # no helper skips
        status = json.loads(service.cli("status", "--project", str(project_id), "--json").stdout)
        assert status["tasks"] == N_REAL and status["annotations"] == N_REAL and status["skipped"] == 0
    finally:
        service.stop()
        store.dispose()
