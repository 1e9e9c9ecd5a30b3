"""Batch agreement end to end: a real Label Studio, the real service (issue #5's test).

500 tasks come in through one import (one TASKS_CREATED event); the service samples 50, raises
their overlap to 2 in Label Studio, two real annotators label them (each with their own token),
and the figures, alerts and API answer are checked against scikit-learn and krippendorff on the
very pairs the annotators submitted.
"""

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import krippendorff
import numpy as np
import pytest
import requests
from lsharness import Annotator, LabelStudioServer
from servicefixtures import API_TOKEN, ServiceProcess
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from waiting import wait_for

from plugin.cli import main
from plugin.labelstudio import LabelStudioAdapter
from plugin.store import Store
from plugin.store.schema import alerts, inbox
from plugin.store.schema_agreement import agreement_batches, agreement_tasks

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Text name="text" value="$text"/><Choices name="animal" toName="text">
<Choice value="bird"/><Choice value="cat"/><Choice value="dog"/></Choices></View>"""
CLASSES = ("bird", "cat", "dog")


def choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "animal", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def test_a_batch_sample_is_double_annotated_and_its_agreement_measured(
    ls_server: LabelStudioServer,
    make_annotator: Callable[[], Annotator],
    sqlite_url: str,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project_id = ls_server.create_project("agreement e2e", LABEL_CONFIG)
    service = ServiceProcess(
        tmp_path,
        sqlite_url,
        label_studio_url=ls_server.url,
        api_key=ls_server.admin_pat,
        # The whole 50-task sample at once, and alerts on the point estimate (no bootstrap) from one
        # item on: this test is about the flow and the figures (tests/unit/test_agreement_openset.py
        # has the bounded open set, plugin.relabel.rules the evidence an alert needs in production).
        extra="worker:\n  sync_interval: 0\n  poll_interval: 0.05\n"
        "agreement:\n  max_open_samples: 0\n  min_items: 1\n  bootstrap: 0\n",
    ).start()
    store = Store(sqlite_url)
    adapter = LabelStudioAdapter(ls_server.url, ls_server.admin_pat)
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG", "LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def lsqa(*argv: str) -> str:  # the CLI in this process: a subprocess costs seconds of imports
        capsys.readouterr()
        assert main(["--config", str(service.config), *argv]) == 0
        return capsys.readouterr().out

    try:
        assert "show_overlap_first = true" in lsqa("connect", "--project", str(project_id), "--no-sync")
        task_ids = ls_server.import_tasks(project_id, [{"text": f"animal {i}"} for i in range(500)])

        def sample_ready() -> list[int]:
            with store.read() as conn:
                rows = conn.execute(select(agreement_tasks.c.task_id, agreement_tasks.c.overlap)).all()
            sampled = sorted(t for t, overlap in rows if overlap == "set")
            return sampled if len(rows) == 500 and len(sampled) == 50 else []

        sample = wait_for(sample_ready, what="the sample's overlap")
        with store.inbox_read() as conn:
            actions = conn.execute(select(inbox.c.action)).scalars().all()
        assert [a for a in actions if a != "PROJECT_UPDATED"] == ["TASKS_CREATED"]  # connect's round trip
        overlaps = {t["id"]: t["overlap"] for t in adapter.iter_tasks(project_id)}
        assert set(overlaps) == set(task_ids)
        assert sorted(t for t, overlap in overlaps.items() if overlap == 2) == sample

        ann, bea = sorted((make_annotator(), make_annotator()), key=lambda a: a.id)
        truth = {t: CLASSES[i % 3] for i, t in enumerate(sample)}
        # Bea reads half of the dogs as cats: "dog" (and "cat") agreement drops, "bird" stays clean.
        dogs = [t for t in sample if truth[t] == "dog"]
        said = {ann.id: dict(truth), bea.id: {**truth, **dict.fromkeys(dogs[::2], "cat")}}

        def work(annotator: Annotator) -> None:
            served = annotator.next_task(project_id)  # the labeling stream serves the sample first
            assert served is not None and served["id"] in sample
            first_task = served["id"]
            for task_id in [first_task, *(t for t in sample if t != first_task)]:
                annotator.submit(task_id, choice(said[annotator.id][task_id]), project_id=project_id)

        with ThreadPoolExecutor(2) as pool:  # both at once, as two people would
            list(pool.map(work, (ann, bea)))

        def computed() -> dict[str, Any] | None:
            with store.read() as conn:
                row = conn.execute(select(agreement_batches)).mappings().one()
            return dict(row) if row["computed_at"] else None

        batch = wait_for(computed, what="the batch's figures")
        assert (batch["status"], batch["sample_done"], batch["task_count"]) == ("complete", 50, 500)
        answer = requests.get(
            f"{service.base_url}/api/v1/projects/{project_id}/batches",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=10,
        ).json()
        (shown,) = answer["batches"]
        first = np.array([said[ann.id][t] for t in sample])
        second = np.array([said[bea.id][t] for t in sample])
        assert shown["kappa"] == pytest.approx(cohen_kappa_score(first, second))
        codes = np.searchsorted(CLASSES, np.vstack([first, second])).astype(float)
        assert shown["alpha"] == pytest.approx(krippendorff.alpha(codes, level_of_measurement="nominal"))
        assert shown["raw_agreement"] == pytest.approx(np.mean(first == second))
        kappas = {c["label"]: c["kappa"] for c in shown["per_category"]}
        for label in CLASSES:
            assert kappas[label] == pytest.approx(cohen_kappa_score(first == label, second == label)), label
        weak = {c["label"] for c in shown["per_category"] if c["below_threshold"]}
        assert "dog" in weak and "bird" not in weak
        assert shown["confusions"] == [{"a": "cat", "b": "dog", "count": len(dogs[::2])}]

        with store.read() as conn:
            raised = {r.details["category"]: r for r in conn.execute(select(alerts)).all()}
        assert set(raised) == weak
        details = raised["dog"].details
        assert details["batch"] == batch["id"] and "cat / dog" in details["most frequent confusions"]
        assert bea.email in details["annotators most involved"]

        listed = json.loads(lsqa("agreement", "list", "--project", str(project_id), "--json"))
        # the same figures; the API adds each batch's link into Label Studio for the dashboard
        assert listed == {
            **answer,
            "batches": [{k: v for k, v in b.items() if k != "url"} for b in answer["batches"]],
        }
        again = lsqa("agreement", "compute", "--project", str(project_id))
        assert again.startswith(f"batch {batch['id']}: 50 tasks compared; kappa {shown['kappa']:.3f}")
        with store.read() as conn:
            assert len(conn.execute(select(alerts)).all()) == len(raised)  # no second alert
    finally:
        service.stop()
        store.dispose()
        adapter.close()
