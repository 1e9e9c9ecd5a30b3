"""Confident learning on a real Label Studio: 2,000 tasks, 8 % of their labels flipped, a scored model.

The tasks come in with one import (annotations by a real annotator, not ground truth, and one
prediction each with a ``model_version`` and a ``score``). Imports send no ANNOTATION webhooks, so
``lsqa sync`` brings the annotations into the store; ``lsqa relabel push`` then runs the scan as
production does (the relabel jobs with the real ``LabelStudioAdapter``, which reads the predictions
back from Label Studio) and pushes the suspects to a relabel project. The queued confident-learning
candidates are compared with the flipped set.
"""

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from lsharness import Annotator, LabelStudioServer
from relabelsim import noisy_labels
from servicefixtures import ServiceProcess
from sqlalchemy import func, select
from test_relabel_e2e import lsqa

from plugin.store import Store
from plugin.store.schema import metadata
from plugin.store.schema_relabel import relabel_items

pytestmark = pytest.mark.integration

CLASSES = ["cat", "dog", "bird", "fish"]
CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="animal" toName="text" choice="single">
    <Choice value="cat"/><Choice value="dog"/><Choice value="bird"/><Choice value="fish"/>
  </Choices>
</View>"""
MODEL_VERSION = "sim-classifier-v3"
OLD_VERSION = "sim-classifier-v2"  # an older model still has predictions on some tasks
N, FLIP, MODEL_ACCURACY, OLD_SHARE = 2000, 0.08, 0.9, 0.1


def choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "animal", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def prediction(model_version: str, score: float, label: int) -> dict[str, Any]:
    return {"model_version": model_version, "score": float(score), "result": choice(CLASSES[label])}


def simulated_tasks(annotator_id: int, seed: int = 5) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The import body and which tasks' labels were flipped (``relabelsim.noisy_labels``), plus an
    older model's confident guesses on some tasks."""
    rng = np.random.default_rng(seed)
    given, predicted, score, flipped = noisy_labels(rng, N, len(CLASSES), FLIP, MODEL_ACCURACY)
    old = rng.random(N) < OLD_SHARE  # the old model: a confident guess, stored after the current one
    old_guess, old_score = rng.integers(0, len(CLASSES), N), rng.uniform(0.9, 0.99, N)
    body = [
        {
            "data": {"text": f"record {i}"},
            "annotations": [
                {"result": choice(CLASSES[given[i]]), "completed_by": annotator_id, "ground_truth": False}
            ],
            "predictions": [prediction(MODEL_VERSION, score[i], predicted[i])]
            + ([prediction(OLD_VERSION, old_score[i], old_guess[i])] if old[i] else []),
        }
        for i in range(N)
    ]
    return body, flipped


def test_confident_learning_scan_finds_flipped_labels_on_real_label_studio(
    ls_server: LabelStudioServer,
    make_annotator: Callable[[], Annotator],
    sqlite_url: str,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    annotator = make_annotator()
    project_id = ls_server.create_project("relabel confident learning", CONFIG)
    body, flipped = simulated_tasks(annotator.id)
    task_ids = ls_server.import_tasks(project_id, body)  # one call
    imported = time.monotonic()
    assert len(task_ids) == N
    # The project's current model (import picks one of the versions it saw; a user sets it).
    ls_server.api.json("PATCH", f"/api/projects/{project_id}/", json={"model_version": MODEL_VERSION})
    flipped_tasks = {task_ids[i] for i in np.flatnonzero(flipped)}

    # The service's configuration, without running it: the commands below do the work in-process.
    service = ServiceProcess(
        tmp_path, sqlite_url, label_studio_url=ls_server.url, api_key=ls_server.admin_pat
    )
    synced = lsqa(capsys, service, "sync", "--project", str(project_id))
    synced_at = time.monotonic()
    assert f"{N:,}/{N:,} tasks read" in synced, synced
    counted = Store(sqlite_url)
    try:
        with counted.read() as conn:  # every task and its annotation reached the store
            counts = [
                conn.execute(select(func.count()).select_from(metadata.tables[t])).scalar_one()
                for t in ("tasks", "annotations")
            ]
    finally:
        counted.dispose()
    assert counts == [N, N], counts
    pushed = lsqa(capsys, service, "relabel", "push", "--project", str(project_id))
    finished = time.monotonic()

    store = Store(sqlite_url)
    try:
        with store.read() as conn:
            items = [dict(r) for r in conn.execute(select(relabel_items)).mappings()]
            stored = {
                t.name: [dict(r) for r in conn.execute(select(t)).mappings()] for t in metadata.sorted_tables
            }
    finally:
        store.dispose()
    found = [i for i in items if i["reason_kind"] == "confident_learning"]
    assert len(found) == len(items) > 0, pushed  # nothing else to relabel in this project
    flagged = {i["source_task_id"] for i in found}
    assert len(flagged) == len(found)  # one candidate per task (one annotation each)
    hits = len(flagged & flipped_tasks)
    precision, recall = hits / len(flagged), hits / len(flipped_tasks)
    print(
        f"real LS: {len(flipped_tasks)} flipped of {N}, {len(flagged)} queued, precision {precision:.3f}, "
        f"recall {recall:.3f}; import {imported - started:.1f} s, sync {synced_at - imported:.1f} s, "
        f"scan + push {finished - synced_at:.1f} s"
    )
    assert precision >= 0.7 and recall >= 0.7
    assert all(i["status"] == "pushed" and i["relabel_task_id"] for i in found), pushed
    assert all(i["reason"].startswith("confident learning: the model gives") for i in found)

    # What the store keeps: each annotation's result (the store's design) and the questioned result as
    # the relabel item's prefill, nothing of the model's predictions, and no gold answer.
    holding_results = {
        name: sum('"choices"' in json.dumps(row, default=str) for row in rows)
        for name, rows in stored.items()
    }
    assert {name: n for name, n in holding_results.items() if n} == {
        "annotations": N,
        "relabel_items": len(found),
    }
    source, relabel_project = sorted(stored.pop("projects"), key=lambda p: p["id"] != project_id)
    assert source["settings"].pop("model_version") == MODEL_VERSION  # the project's setting, by design
    everything = json.dumps([source, relabel_project, stored], default=str)
    assert MODEL_VERSION not in everything and OLD_VERSION not in everything  # predictions are never stored
    assert not any(rows for name, rows in stored.items() if name.startswith("gold"))
