"""Issue 11's acceptance run for samples that never starve gold: a 5,000-task import with batch
agreement on (10 %: a 500-task sample) and hidden gold on, three annotators labelling through the
UI's own calls. Only ``agreement.max_open_samples`` sampled tasks are open at a time, and none is
raised while a gold copy waits, so every annotator's regular gold share stays in [3 %, 5 %] from
their 100th task on while the sample fills. (Before, the whole sample was raised at once and the
copies waited behind all 500 sampled tasks: no regular gold for the whole run.)"""

import os
import random
import time
from datetime import UTC, datetime

import pytest
import requests
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import func, select

from plugin.store import Store
from plugin.store.schema import gold_answers, gold_items, jobs
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
N_TASKS, N_GOLD, REAL_PER_PERSON = 5000, 60, 115


def choice(value):
    return [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_patiently(service: ServiceProcess) -> ServiceProcess:
    """``start()`` gives up after 60 s; on a loaded shared machine the service can take longer."""
    try:
        return service.start()
    except RuntimeError:
        if service.proc is None or service.proc.poll() is not None:
            raise

    def healthy():
        try:
            return requests.get(f"{service.base_url}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=180, what="lsqa serve")
    except AssertionError:
        service.stop()
        raise
    return service


@pytest.mark.skipif(
    not os.environ.get("LSQA_SLOW_TESTS"),
    reason="5,000-task import with three annotators; set LSQA_SLOW_TESTS=1 to run it (not yet seen passing)",
)
@pytest.mark.timeout(900)  # about 4 minutes on a quiet machine (estimate)
def test_gold_keeps_its_share_while_a_big_import_is_sampled(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("agreement at scale", LABEL_CONFIG)
    service = start_patiently(ServiceProcess(
        tmp_path, sqlite_url, label_studio_url=ls_server.url, api_key=ls_server.admin_pat,
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\n",
    ))  # fmt: skip
    store = Store(sqlite_url)
    try:
        service.cli("connect", "--project", str(project_id), "--no-sync")
        expert = {f"gold {i}": "ab"[i % 2] for i in range(N_GOLD)}
        now = datetime.now(UTC)
        with store.begin() as conn:
            for text, label in expert.items():
                conn.execute(gold_items.insert().values(
                    project_id=project_id, data={"text": text}, expert_result=choice(label), classes=[label],
                    origin="cli", created_at=now, updated_at=now,
                ))  # fmt: skip
        frames = [{"text": f"frame {i}"} for i in range(N_TASKS)]  # one import (1 TASKS_CREATED body)
        ls_server.api.json("POST", f"/api/projects/{project_id}/import", json=frames, timeout=600)

        def sample_open():
            with store.read() as conn:
                batch = conn.execute(select(agreement_batches)).mappings().first()
                raised = conn.execute(select(func.count()).where(agreement_tasks.c.overlap == "set")).scalar()
            return batch if batch is not None and raised == 20 else None

        batch = wait_for(sample_open, what="the first open sampled tasks")
        assert (batch["task_count"], batch["sample_size"]) == (N_TASKS, 500)
        with store.read() as conn:
            sampled = set(
                conn.execute(select(agreement_tasks.c.task_id).where(agreement_tasks.c.sampled)).scalars()
            )

        people = [make_annotator() for _ in range(3)]
        rng = random.Random(11)
        real_done = dict.fromkeys((p.id for p in people), 0)
        gold_at: dict[int, list[int]] = {p.id: [] for p in people}  # real tasks done when each gold came
        sampled_served = 0
        starved = 0  # "no more tasks" while real work remains: the open tasks left were held by others
        current = {p.id: p.next_task(project_id) for p in people}
        while min(real_done.values()) < REAL_PER_PERSON:
            for person in people:  # round robin; each holds their next task, as the UI does
                task = current[person.id] or person.next_task(project_id)
                if task is None:
                    starved += 1
                    assert starved < 100, "the stream stays empty"
                    continue
                text = task["data"]["text"]
                if text in expert:
                    gold_at[person.id].append(real_done[person.id])
                    person.submit(task["id"], choice(expert[text]), project_id=project_id)
                else:
                    real_done[person.id] += 1
                    sampled_served += task["id"] in sampled
                    person.submit(task["id"], choice(rng.choice("ab")), project_id=project_id)
                current[person.id] = person.next_task(project_id)

        def settled():
            with store.read() as conn:
                return conn.execute(select(jobs.c.id).where(jobs.c.status == "pending")).first() is None

        wait_for(settled, what="the service's jobs")
        with store.read() as conn:
            answers = conn.execute(select(gold_answers).order_by(gold_answers.c.id)).mappings().all()
            (batch,) = conn.execute(select(agreement_batches)).mappings().all()

        # The sample filled meanwhile (gold did not stop it), a few open tasks at a time.
        print(f"sampled tasks served {sampled_served}, sample {batch['sample_done']}/{batch['sample_size']}, "
              f"starved fetches {starved}, gold at {gold_at}")  # fmt: skip
        assert sampled_served >= 100 and 0 < batch["sample_done"] < batch["sample_size"]
        for person in people:
            purposes = [a["purpose"] for a in answers if a["annotator_id"] == person.id]
            assert len(purposes) == len(gold_at[person.id])
            regular_at = [
                n for n, purpose in zip(gold_at[person.id], purposes, strict=True) if purpose == "regular"
            ]
            for n in range(100, real_done[person.id] + 1):
                share = sum(at <= n for at in regular_at) / n
                assert 0.03 <= share <= 0.05, (person.id, n, share, gold_at[person.id], purposes)
    finally:
        service.stop()
        store.dispose()
