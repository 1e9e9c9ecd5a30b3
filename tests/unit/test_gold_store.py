"""Gold store verbs on SQLite and PostgreSQL: idempotent import, retire, usage, following ground truth."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from plugin.cli import main
from plugin.gold import GoldDraft
from plugin.records import AnnotationRecord, Changes, ProjectRecord, TaskRecord
from plugin.store import Store
from plugin.store.domain import apply_changes
from plugin.store.gold import add_gold_items, list_gold_items, record_ground_truth, retire_gold_item
from plugin.store.schema import gold_answers, gold_copies, gold_items

T0 = datetime(2024, 5, 1, tzinfo=UTC)
POSITIVE = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["Positive"]}}]
NEGATIVE = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["Negative"]}}]
CONFIG = """<View><Text name="t" value="$text"/>
<Choices name="s" toName="t"><Choice value="Positive"/><Choice value="Negative"/></Choices>
<Rating name="r" toName="t"/></View>"""


def draft(task_id, result=POSITIVE, *, source_project=9, data=None, classes=("Positive",)):
    return GoldDraft(task_id, source_project, data or {"text": f"t{task_id}"}, result, classes)


def add(store, project_id, drafts, origin="import"):
    with store.begin() as conn:
        return add_gold_items(conn, project_id, drafts, origin, now=T0)


def listed(store, project_id, **kwargs):
    with store.read() as conn:
        return list_gold_items(conn, project_id, **kwargs)


def test_add_gold_items_is_idempotent(store):
    drafts = [draft(1), draft(2)]
    assert add(store, 5, drafts) == (2, 0)
    assert add(store, 5, drafts) == (0, 0)
    items = listed(store, 5)
    assert [(i.source_project_id, i.source_task_id, i.origin) for i in items] == [
        (9, 1, "import"),
        (9, 2, "import"),
    ]
    assert items[0].classes == ("Positive",)
    assert items[0].created_at.replace(tzinfo=UTC) == T0


def test_add_gold_items_updates_a_changed_answer_and_keeps_origin(store):
    add(store, 5, [draft(1)])
    assert add(store, 5, [draft(1, NEGATIVE, classes=("Negative",))], origin="project") == (0, 1)
    (item,) = listed(store, 5)
    assert (item.classes, item.origin) == (("Negative",), "import")
    with store.read() as conn:
        assert conn.execute(gold_items.select()).mappings().one()["expert_result"] == NEGATIVE


def test_add_gold_items_matches_null_source_ids(store):
    # NULLs are distinct in the unique constraint, so only the look-up keeps these idempotent.
    drafts = [draft(1, source_project=None), draft(None, source_project=None, data={"text": "hand-made"})]
    assert add(store, 5, drafts) == (2, 0)
    assert add(store, 5, drafts) == (0, 0)
    assert add(store, 5, [draft(None, source_project=None, data={"text": "other"})]) == (1, 0)
    assert len(listed(store, 5)) == 3


def test_add_gold_items_same_source_twice_in_one_call(store):
    assert add(store, 5, [draft(1), draft(1, NEGATIVE, classes=("Negative",))]) == (1, 1)
    assert listed(store, 5)[0].classes == ("Negative",)


def test_add_gold_items_keeps_projects_apart(store):
    add(store, 5, [draft(1)])
    assert add(store, 6, [draft(1)]) == (1, 0)
    assert len(listed(store, 5)) == len(listed(store, 6)) == 1


def test_retire_gold_item_is_final(store):
    add(store, 5, [draft(1), draft(2)])
    first = listed(store, 5)[0].id
    with store.begin() as conn:
        assert retire_gold_item(conn, first, now=T0) == "retired"
        assert retire_gold_item(conn, first) == "already_retired"
        assert retire_gold_item(conn, 999_999) == "missing"
    assert [i.source_task_id for i in listed(store, 5)] == [2]
    every = listed(store, 5, include_retired=True)
    assert every[0].retired_at is not None
    # A re-import with a new answer leaves a retired item alone.
    assert add(store, 5, [draft(1, NEGATIVE)]) == (0, 0)
    assert listed(store, 5, include_retired=True)[0].classes == ("Positive",)


def _copy(conn, item_id, annotator, *, answered=None):
    copy_id = conn.execute(
        gold_copies.insert()
        .values(
            project_id=5,
            task_id=1000 + annotator,
            item_id=item_id,
            annotator_id=annotator,
            purpose="regular",
            state="answered" if answered else "live",
            helper_annotation_ids=[],
            created_at=T0,
        )
        .returning(gold_copies.c.id)
    ).scalar_one()
    if answered is not None:
        score, passed = answered
        conn.execute(
            gold_answers.insert().values(
                project_id=5,
                item_id=item_id,
                annotator_id=annotator,
                copy_id=copy_id,
                purpose="regular",
                result=[],
                score=score,
                passed=passed,
                outcomes=[],
                answered_at=T0 + timedelta(minutes=annotator),
            )
        )


def test_list_gold_items_usage_statistics(store):
    add(store, 5, [draft(1), draft(2)])
    used, unused = (i.id for i in listed(store, 5))
    with store.begin() as conn:
        _copy(conn, used, 1, answered=(1.0, True))
        _copy(conn, used, 2, answered=(0.5, False))
        _copy(conn, used, 2, answered=(0.0, False))
        _copy(conn, used, 3)  # served, not answered yet
    by_id = {i.id: i.usage for i in listed(store, 5)}
    usage = by_id[used]
    assert (usage.served, usage.answers, usage.annotators) == (4, 3, 3)
    assert usage.mean_score == pytest.approx(0.5)
    assert usage.miss_rate == pytest.approx(2 / 3)
    assert by_id[unused] == type(usage)(served=0, answers=0, mean_score=None, miss_rate=None, annotators=0)


# -- following ground truth in a connected project ---------------------------------------------------


def annotation(aid, result=POSITIVE, *, gt=True, task_id=1, cancelled=False):
    return AnnotationRecord(aid, 5, task_id, 77, result, 1.0, cancelled, gt)


def seed(store, *annotations):
    task = TaskRecord(1, 5, {"text": "stored"}, {})
    changes = Changes(projects=[ProjectRecord(5, "p", CONFIG)], tasks=[task], annotations=list(annotations))
    with store.begin() as conn:
        apply_changes(conn, changes, seq=2)


def follow(store, record, task=None, task_data=None):
    with store.begin() as conn:
        return record_ground_truth(conn, 5, task, record, task_data, now=T0)


def test_record_ground_truth_adds_updates_and_replays(store):
    seed(store)
    task = TaskRecord(1, 5, {"text": "from event"}, {})
    rated = [*POSITIVE, {"from_name": "r", "to_name": "t", "type": "rating", "value": {"rating": 4}}]
    assert follow(store, annotation(10, rated), task) == "added"
    (item,) = listed(store, 5)
    assert (item.source_project_id, item.source_task_id, item.origin, item.classes) == (
        5,
        1,
        "project",
        ("Positive",),
    )
    assert follow(store, annotation(10, rated), task) == "unchanged"
    assert follow(store, annotation(10, NEGATIVE), task) == "updated"
    assert listed(store, 5)[0].classes == ("Negative",)


def test_record_ground_truth_takes_data_from_argument_or_store(store):
    seed(store)
    assert follow(store, annotation(10), task_data={"text": "given"}) == "added"
    with store.read() as conn:
        assert conn.execute(gold_items.select()).mappings().one()["data"] == {"text": "given"}
    assert follow(store, annotation(11, task_id=1)) == "updated"  # data now from the stored task
    with store.read() as conn:
        assert conn.execute(gold_items.select()).mappings().one()["data"] == {"text": "stored"}


def test_record_ground_truth_ignores_what_it_cannot_use(store):
    assert follow(store, annotation(10, task_id=42)) == "ignored"  # task unknown, no data
    assert follow(store, annotation(10, cancelled=True), task_data={"a": 1}) == "ignored"
    assert follow(store, annotation(10, gt=False), task_data={"a": 1}) == "ignored"
    assert listed(store, 5, include_retired=True) == []


def test_record_ground_truth_unset_on_the_source_annotation_retires(store):
    seed(store)
    follow(store, annotation(10))
    # Another annotator's ordinary annotation of the source task changes nothing.
    assert follow(store, annotation(11, NEGATIVE, gt=False)) == "ignored"
    assert follow(store, annotation(10, gt=False)) == "retired"
    assert listed(store, 5) == []
    # Retired is final, also for events (a sync replays every ground-truth annotation).
    assert follow(store, annotation(10)) == "unchanged"
    assert listed(store, 5) == []


def test_record_ground_truth_unset_falls_back_to_another_ground_truth(store):
    seed(store, annotation(10, POSITIVE), annotation(12, NEGATIVE))
    follow(store, annotation(10, POSITIVE))
    assert follow(store, annotation(10, POSITIVE, gt=False)) == "updated"
    assert listed(store, 5)[0].classes == ("Negative",)


# -- the command line ------------------------------------------------------------------------------


PICK_HINT = "mark one ground truth per task, or use --pick latest|earliest|skip"
EXPORT = [
    {
        "id": 1,
        "project": 9,
        "data": {"text": "good"},
        "annotations": [{"id": 3, "ground_truth": True, "was_cancelled": False, "result": POSITIVE}],
    },
    {"id": 2, "project": 9, "data": {"text": "unsure"}, "annotations": []},
]


@pytest.fixture
def lsqa(tmp_path, store_url, monkeypatch, capsys):
    """Run ``lsqa`` against a config whose store is the parametrized engine; return (code, out, err)."""
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )

    def run(*argv):
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_gold_import_list_retire(lsqa, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT))
    code, _, err = lsqa("gold", "import", "--project", "5", str(export))
    assert (code, err) == (1, "lsqa: 1 task without a ground-truth annotation (2); " + PICK_HINT + "\n")
    assert lsqa("gold", "import", "-p", "5", str(export), "--pick", "skip") == (
        0,
        "project 5: 1 gold items added, 0 updated, 0 unchanged, 1 tasks skipped (2)\n",
        "",
    )
    assert lsqa("gold", "import", "-p", "5", str(export), "--pick", "skip")[1].startswith(
        "project 5: 0 gold items added, 0 updated, 1 unchanged"
    )
    code, out, _ = lsqa("gold", "list", "--project", "5")
    item_id = int(out.split()[1].rstrip(":"))
    assert out == (
        f"item {item_id}: classes Positive; task 1 of project 9 (import); "
        "served 0x to 0 annotators, 0 answers, no answers\n"
    )
    code, out, _ = lsqa("gold", "list", "--project", "5", "--json")
    (listed_item,) = json.loads(out)
    assert listed_item["classes"] == ["Positive"] and listed_item["served"] == 0
    assert "Positive" not in json.dumps(
        {k: v for k, v in listed_item.items() if k != "classes"}
    )  # no answers
    assert lsqa("gold", "retire", str(item_id)) == (0, f"gold item {item_id} retired\n", "")
    assert lsqa("gold", "retire", str(item_id)) == (0, f"gold item {item_id} was already retired\n", "")
    assert lsqa("gold", "list", "-p", "5") == (0, "project 5: no gold items\n", "")
    assert "(retired)" in lsqa("gold", "list", "-p", "5", "--all")[1]
    assert lsqa("gold", "retire", "999999") == (1, "", "lsqa: no gold item 999999\n")


def test_cli_gold_import_uses_the_stored_label_config(lsqa, store_url, tmp_path):
    store = Store(store_url)
    store.migrate()
    with store.begin() as conn:
        apply_changes(conn, Changes(projects=[ProjectRecord(5, "p", CONFIG)]), seq=2)
    store.dispose()
    odd = [{"from_name": "r", "to_name": "t", "type": "rating", "value": {"rating": 2, "labels": ["X"]}}]
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps([{"id": 1, "data": {}, "annotations": [{"ground_truth": True, "result": odd}]}])
    )
    assert lsqa("gold", "import", "-p", "5", str(export))[0] == 0
    assert json.loads(lsqa("gold", "list", "-p", "5", "--json")[1])[0]["classes"] == []
    assert lsqa("gold", "import", "-p", "6", str(export))[0] == 0  # project 6 unknown: keys decide
    assert json.loads(lsqa("gold", "list", "-p", "6", "--json")[1])[0]["classes"] == ["X"]


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "lsqa: cannot read the export {export}: No such file or directory\n"),
        (
            "{oops",
            [],
            "lsqa: the export is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[]", ["--label-config", "{missing}"], "lsqa: cannot read the label config {missing}: No such file"),
        ("[]", ["--label-config", "{bad}"], "lsqa: {bad}: label config is not valid XML"),
    ],
)
def test_cli_gold_import_errors_are_one_line(lsqa, tmp_path, content, extra, message):
    paths = {
        "export": tmp_path / "export.json",
        "missing": tmp_path / "nope.xml",
        "bad": tmp_path / "bad.xml",
    }
    paths["bad"].write_text("<View>")
    if content is not None:
        paths["export"].write_text(content)
    argv = [a.format(**paths) for a in extra]
    code, out, err = lsqa("gold", "import", "-p", "5", str(paths["export"]), *argv)
    assert (code, out) == (1, "")
    assert err.startswith(message.format(**paths)) and err.count("\n") == 1
