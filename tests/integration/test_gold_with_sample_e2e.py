"""Hidden gold and batch agreement on one project (both on, as by default): the agreement sample
(overlap 2) and the gold copies are both served first through ``show_overlap_first``, and a copy
still reaches its target, right after the older sampled tasks."""

from datetime import UTC, datetime

import pytest
from lsharness import LabelStudioServer
from servicefixtures import ServiceProcess
from sqlalchemy import select
from waiting import wait_for

from plugin.store import Store
from plugin.store.schema import gold_answers, gold_copies, gold_items
from plugin.store.schema_agreement import agreement_tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]


def test_a_gold_copy_reaches_its_target_while_a_sample_is_open(
    ls_server: LabelStudioServer, make_annotator, sqlite_url, tmp_path
):
    project_id = ls_server.create_project("gold with sample", LABEL_CONFIG)
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        extra=(
            "worker:\n  sync_interval: 0\n  poll_interval: 0.05\ngold:\n  onboarding_items: 1\n"
            "agreement:\n  sample_rate: 0.2\n"
        ),
    ).start()
    store = Store(sqlite_url)
    try:
        service.cli("connect", "--project", str(project_id), "--no-sync")
        now = datetime.now(UTC)
        with store.begin() as conn:
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id, data={"text": "golden"}, expert_result=RESULT, classes=["a"],
                    origin="cli", created_at=now, updated_at=now,
                )
            )  # fmt: skip
        ls_server.import_tasks(project_id, [{"text": f"real {i}"} for i in range(10)])

        def sample_set():
            with store.read() as conn:
                rows = conn.execute(select(agreement_tasks.c.task_id, agreement_tasks.c.overlap)).all()
            sampled = sorted(t for t, overlap in rows if overlap == "set")
            return sampled if len(rows) == 10 and len(sampled) == 2 else None

        sample = wait_for(sample_set, what="the sample's overlap")
        annotator = make_annotator()
        served = []
        for _ in range(len(sample) + 2):
            task = annotator.next_task(project_id)
            assert task is not None
            served.append(task["data"]["text"] if task["data"]["text"] == "golden" else task["id"])
            annotator.submit(task["id"], RESULT, project_id=project_id)
            if served[-1] == "golden":
                break
            if len(served) == 1:  # the first real submission makes the onboarding copy due

                def live():
                    with store.read() as conn:
                        return conn.execute(select(gold_copies.c.state)).scalar_one_or_none() == "live"

                wait_for(live, what="the onboarding copy")
        # the sample first (older ids), then the copy, before any other real task
        assert served == [*sample, "golden"]

        def answered():
            with store.read() as conn:
                return conn.execute(
                    select(gold_answers.c.annotator_id, gold_answers.c.purpose, gold_answers.c.passed)
                ).all()

        assert wait_for(answered, what="the gold answer") == [(annotator.id, "onboarding", True)]
    finally:
        service.stop()
        store.dispose()
