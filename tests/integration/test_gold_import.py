"""``lsqa gold import`` on an export of a real Label Studio project.

Annotators label tasks as the UI does; an admin marks some annotations ground truth (notes §5:
``PATCH /api/annotations/{id}/``); one task comes in with an annotation at import, which Label
Studio marks ground truth by itself. The project is exported through the SDK and imported into the
gold library; the items must hold exactly the ground-truth answers.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsharness import Annotator, LabelStudioServer
from sqlalchemy import select

from plugin.cli import main
from plugin.store import Store
from plugin.store.schema import gold_items

pytestmark = pytest.mark.integration

LABEL_CONFIG = """
<View>
  <Image name="img" value="$image"/>
  <Text name="txt" value="$text"/>
  <RectangleLabels name="box" toName="img"><Label value="car"/><Label value="van"/></RectangleLabels>
  <Choices name="mood" toName="txt"><Choice value="happy"/><Choice value="sad"/></Choices>
  <Taxonomy name="tax" toName="txt"><Choice value="Animal"><Choice value="Cat"/></Choice></Taxonomy>
  <Rating name="stars" toName="txt"/>
</View>
"""
IMAGE = "https://example.com/street.jpg"


def answer(box_label: str, mood: str, *, stars: int = 3) -> list[dict[str, Any]]:
    box = {"x": 10, "y": 10, "width": 30, "height": 20, "rotation": 0, "rectanglelabels": [box_label]}
    return [
        {"id": "b1", "from_name": "box", "to_name": "img", "type": "rectanglelabels", "value": box,
         "original_width": 200, "original_height": 100, "image_rotation": 0},
        {"id": "m1", "from_name": "mood", "to_name": "txt", "type": "choices", "value": {"choices": [mood]}},
        {"id": "t1", "from_name": "tax", "to_name": "txt", "type": "taxonomy",
         "value": {"taxonomy": [["Animal", "Cat"]]}},
        {"id": "s1", "from_name": "stars", "to_name": "txt", "type": "rating", "value": {"rating": stars}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def exported(ls_server: LabelStudioServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A labelled project's export file, and the ground truth we expect per task id."""
    project_id = ls_server.create_project("gold import", LABEL_CONFIG)
    tasks = [{"image": IMAGE, "text": f"text {i}"} for i in range(3)]
    marked, both_plain, unlabelled = ls_server.import_tasks(project_id, tasks)
    # Annotations that arrive with an import are ground truth by default (notes §5).
    (imported,) = ls_server.import_tasks(
        project_id,
        [{"data": {"image": IMAGE, "text": "imported"}, "annotations": [{"result": answer("van", "sad")}]}],
    )
    first, second = ls_server.create_annotator(), ls_server.create_annotator()
    try:
        expert = first.submit(marked, answer("car", "happy"), project_id=project_id)
        second.submit(marked, answer("van", "sad"), project_id=project_id)
        second.skip(unlabelled, project_id=project_id)
        first.submit(both_plain, answer("car", "sad"), project_id=project_id)
        second.submit(both_plain, answer("van", "happy", stars=1), project_id=project_id)
    finally:
        _close(first, second)
    ls_server.api.json("PATCH", f"/api/annotations/{expert['id']}/", json={"ground_truth": True})
    export = ls_server.admin.projects.exports.as_json(project_id)
    path = tmp_path_factory.mktemp("gold") / "export.json"
    path.write_text(json.dumps(export))
    return {
        "project_id": project_id,
        "path": path,
        "truth": {marked: answer("car", "happy"), imported: answer("van", "sad")},
        "latest": answer("van", "happy", stars=1),
        "ids": {"marked": marked, "both_plain": both_plain, "unlabelled": unlabelled, "imported": imported},
    }


def _close(*annotators: Annotator) -> None:
    for annotator in annotators:
        annotator.close()


@pytest.fixture
def lsqa(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )
    return lambda *argv: main(["--config", str(config), *argv])


def stored_items(store_url: str) -> dict[int, dict[str, Any]]:
    store = Store(store_url)
    try:
        with store.read() as conn:
            return {row["source_task_id"]: dict(row) for row in conn.execute(select(gold_items)).mappings()}
    finally:
        store.dispose()


def without_ids(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in {"id", "origin"}} for r in result]


def test_gold_import_of_a_real_export(exported, lsqa, store_url, tmp_path, capsys):
    ids, path = exported["ids"], str(exported["path"])
    assert lsqa("gold", "import", "--project", "77", path) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"lsqa: 2 tasks without a ground-truth annotation ({ids['both_plain']}, {ids['unlabelled']})"
    )

    config = tmp_path / "config.xml"
    config.write_text(LABEL_CONFIG)
    assert lsqa("gold", "import", "-p", "77", path, "--pick", "skip", "--label-config", str(config)) == 0
    assert capsys.readouterr().out.startswith(
        "project 77: 2 gold items added, 0 updated, 0 unchanged, 2 tasks skipped"
    )
    items = stored_items(store_url)
    assert set(items) == set(exported["truth"])
    for task_id, truth in exported["truth"].items():
        item = items[task_id]
        assert item["source_project_id"] == exported["project_id"]
        assert without_ids(item["expert_result"]) == without_ids(truth)
        assert item["data"]["image"] == IMAGE
    assert items[ids["marked"]]["classes"] == ["Animal / Cat", "car", "happy"]
    assert items[ids["imported"]]["classes"] == ["Animal / Cat", "sad", "van"]

    # Idempotent; `latest` then adds the task without ground truth from its newest annotation.
    assert lsqa("gold", "import", "-p", "77", path, "--pick", "latest") == 0
    assert capsys.readouterr().out == (
        f"project 77: 1 gold items added, 0 updated, 2 unchanged, 1 tasks skipped ({ids['unlabelled']})\n"
    )
    latest = stored_items(store_url)[ids["both_plain"]]
    assert without_ids(latest["expert_result"]) == without_ids(exported["latest"])

    assert lsqa("gold", "list", "-p", "77", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["source_task_id"] for i in listed] == [ids["marked"], ids["imported"], ids["both_plain"]]
    assert all(i["served"] == 0 and i["origin"] == "import" for i in listed)
