"""Relabel candidates, queueing and the reviewer's correction on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from plugin.cli import main
from plugin.jobs import count_jobs
from plugin.quality.plan import FULL, TARGETED_GUIDELINES
from plugin.records import AnnotationRecord, Changes, ProjectRecord, TaskRecord
from plugin.relabel import engine
from plugin.relabel.candidates import (
    RelabelSettings,
    boundary_candidates,
    collect_candidates,
    flagged_candidates,
    systematic_candidates,
)
from plugin.relabel.profile import relabel_plan
from plugin.relabel.queue import PUSHED, items_of, queue_candidates, update_item
from plugin.settings import load_settings
from plugin.store.domain import apply_changes
from plugin.store.schema import flags, gold_answers, gold_copies, gold_items
from plugin.store.schema_relabel import relabel_projects

T0 = datetime(2026, 5, 1, tzinfo=UTC)
PROJECT = 3
CHOICES = """<View><Text name="t" value="$text"/>
<Choices name="s" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
BOXES = """<View><Image name="img" value="$image"/>
<RectangleLabels name="box" toName="img"><Label value="Car"/><Label value="Van"/></RectangleLabels></View>"""
SETTINGS = RelabelSettings()
SERVICE_SETTINGS = load_settings(
    None,
    env={
        "LABEL_STUDIO_URL": "http://ls",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "0123456789abcdef",
    },
)
RELABEL_PROJECT = 40


def choice(value):
    return [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": [value]}}]


def box(x, label="Car"):
    value = {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": [label]}
    return [
        {
            "id": "r1",
            "from_name": "box",
            "to_name": "img",
            "type": "rectanglelabels",
            "value": value,
            "original_width": 100,
            "original_height": 100,
        }
    ]


def annotation(aid, task, who, result, at, project=PROJECT, cancelled=False):
    return AnnotationRecord(aid, project, task, who, result, 1.0, cancelled, False, at, at)


def seed(store, config, annotations, task_ids, project=PROJECT):
    changes = Changes(
        projects=[ProjectRecord(project, "p", config)],
        tasks=[TaskRecord(t, project, {"text": f"t{t}"}, {}) for t in task_ids],
        annotations=annotations,
    )
    with store.begin() as conn:
        apply_changes(conn, changes, 2)


def add_gold(conn, task_id, expert, *, copy_task=None):
    item = conn.execute(
        gold_items.insert()
        .values(
            project_id=PROJECT,
            source_project_id=PROJECT,
            source_task_id=task_id,
            data={"t": 1},
            expert_result=expert,
            classes=[],
            origin="project",
            created_at=T0,
            updated_at=T0,
        )
        .returning(gold_items.c.id)
    ).scalar_one()
    copy = conn.execute(
        gold_copies.insert()
        .values(
            project_id=PROJECT,
            task_id=copy_task,
            item_id=item,
            annotator_id=0,
            purpose="regular",
            state="deleted",
            helper_annotation_ids=[],
            created_at=T0,
        )
        .returning(gold_copies.c.id)
    ).scalar_one()
    return item, copy


def add_relabel_project(conn):
    conn.execute(
        relabel_projects.insert().values(
            source_project_id=PROJECT,
            relabel_project_id=RELABEL_PROJECT,
            created_by_service=True,
            created_at=T0,
        )
    )


def add_answer(conn, item, copy, who, result, passed, outcomes, annotation_id=None):
    conn.execute(
        gold_answers.insert().values(
            project_id=PROJECT,
            item_id=item,
            annotator_id=who,
            copy_id=copy,
            annotation_id=annotation_id,
            purpose="regular",
            result=result,
            score=1.0 if passed else 0.0,
            passed=passed,
            outcomes=outcomes,
            answered_at=T0,
        )
    )


def test_flagged_annotator_work_since_the_decline_is_queued_once(store):
    before, after = T0 - timedelta(days=1), T0 + timedelta(hours=1)
    work = [
        annotation(1, 10, 7, choice("pos"), before),  # before the decline: fine
        annotation(2, 11, 7, choice("neg"), after),
        annotation(3, 12, 7, [], after, cancelled=True),  # a skip is no work
        annotation(4, 13, 8, choice("pos"), after),  # someone else
        annotation(5, 99, 7, choice("pos"), after),  # one of our gold copies
    ]
    seed(store, CHOICES, work, [10, 11, 12, 13, 99])
    with store.begin() as conn:
        add_gold(conn, None, choice("pos"), copy_task=99)
        conn.execute(
            flags.insert().values(
                project_id=PROJECT,
                annotator_id=7,
                status="open",
                raised_at=after,
                decline_started_at=T0,
                evidence={},
            )
        )
        found = flagged_candidates(conn, PROJECT, SETTINGS)
        assert [(c.source_task_id, c.annotation_id, c.reason_kind) for c in found] == [(11, 2, "flagged")]
        assert found[0].prefill == choice("neg") and "annotator 7" in found[0].reason
        first = queue_candidates(conn, PROJECT, collect_candidates(conn, PROJECT, SETTINGS))
        again = queue_candidates(conn, PROJECT, collect_candidates(conn, PROJECT, SETTINGS))
    assert len(first) == 1 and again == []
    with store.read() as conn:
        (item,) = items_of(conn, PROJECT)
    assert (item["status"], item["annotator_id"], item["gold_item_id"]) == ("queued", 7, None)


def test_systematic_gold_errors_pick_the_annotators_work_on_that_class(store):
    work = [
        annotation(1, 10, 7, choice("neg"), T0),
        annotation(2, 11, 7, choice("pos"), T0),  # 'pos' is what 7 gives instead of 'neg'
        annotation(3, 12, 8, choice("neg"), T0),  # 8 is fine on 'neg'
    ]
    seed(store, CHOICES, work, [10, 11, 12])
    wrong = [{"tag": "s", "gold": "neg", "pred": "pos", "count": 1}]
    right = [{"tag": "s", "gold": "neg", "pred": "neg", "count": 1}]
    with store.begin() as conn:
        item, copy = add_gold(conn, None, choice("neg"))
        for i in range(6):
            add_answer(conn, item, copy + i, 7, choice("pos"), i == 0, right if i == 0 else wrong)
            add_answer(conn, item, copy + 100 + i, 8, choice("neg"), True, right)
        found = systematic_candidates(conn, PROJECT, SETTINGS)
        plan = relabel_plan(conn, PROJECT)
    assert sorted(c.annotation_id for c in found) == [1, 2]
    assert "got 'neg' right in 1/6" in found[0].reason and "'pos'" in found[0].reason
    # 41.7 % errors; annotator 7 makes all of them but on 6 answers, too few to single out: widespread
    assert plan["error_rate"] == 5 / 12 and plan["recommendation"]["strategy"] == FULL
    assert plan["recommendation"]["annotators"] == [] and plan["error_profile"]["primary"] == "random"
    by_person = {a["annotator"]: a["error_share"] for a in plan["per_annotator"]}
    assert by_person == {7: 1.0, 8: 0.0}


def test_cli_relabel_plan_prints_the_strategy_and_the_figures(
    store, store_url, tmp_path, capsys, monkeypatch
):
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    seed(store, CHOICES, [], [10])
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )
    assert main(["--config", str(config), "relabel", "plan", "--project", str(PROJECT)]) == 0
    assert "recommended strategy: none\n  - nothing was compared with gold yet\n" in capsys.readouterr().out
    wrong = [{"tag": "s", "gold": "neg", "pred": "pos", "count": 1}]
    right = [{"tag": "s", "gold": "neg", "pred": "neg", "count": 1}]
    with store.begin() as conn:
        item, copy = add_gold(conn, None, choice("neg"))
        for who in (7, 8, 9, 10):  # 7 gets half of its 12 answers wrong, the others none
            for i in range(12):
                bad = who == 7 and i % 2 == 0
                add_answer(
                    conn,
                    item,
                    copy + 100 * who + i,
                    who,
                    choice("pos" if bad else "neg"),
                    not bad,
                    wrong if bad else right,
                )
    assert main(["--config", str(config), "relabel", "plan", "--project", str(PROJECT), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["error_rate"] == 6 / 48 and plan["recommendation"]["strategy"] == TARGETED_GUIDELINES
    assert plan["recommendation"]["annotators"] == [7] and plan["error_profile"]["concentrated"]
    assert main(["--config", str(config), "relabel", "plan", "--project", str(PROJECT)]) == 0
    text = capsys.readouterr().out
    assert f"recommended strategy: {TARGETED_GUIDELINES}" in text
    assert "overall label error 12.5% (8-15 %)" in text
    assert "annotators 7 cause 100% of all errors with 25% of the work" in text
    assert "requalify annotators: 7" in text and "class neg: 12.5% error over 48" in text
    assert main(["--config", str(config), "relabel", "plan", "--project", "999"]) == 2


def test_boundary_gold_answers_relabel_the_gold_task_and_corrections_are_verified(store):
    seed(store, BOXES, [], [20, 21])
    with store.begin() as conn:
        item, copy = add_gold(conn, 20, box(10))
        add_answer(conn, item, copy, 7, box(12), True, [], annotation_id=555)  # IoU 0.82: boundary
        other, other_copy = add_gold(conn, 21, box(10))
        add_answer(conn, other, other_copy, 7, box(10.5), True, [])  # IoU 0.95: fine
        (found,) = boundary_candidates(conn, PROJECT, SETTINGS)
        assert (found.source_task_id, found.annotation_id, found.gold_item_id) == (20, 555, item)
        assert "boundary" in found.reason and "0.82" in found.reason
        (item_id,) = queue_candidates(conn, PROJECT, [found])
        add_relabel_project(conn)
        update_item(conn, item_id, status=PUSHED, relabel_project_id=40, relabel_task_id=400)
    review = annotation(900, 400, 12, box(10), T0, project=40)
    event = Changes(projects=[ProjectRecord(40)], annotations=[review])
    for _ in range(2):  # a replayed event changes nothing
        with store.begin() as conn:
            apply_changes(conn, event, 4)
            engine.react_to_event(conn, "ANNOTATION_CREATED", event, SERVICE_SETTINGS, 2)
    with store.read() as conn:
        (row,) = items_of(conn, PROJECT)
        assert count_jobs(conn, "relabel_write_back", "relabel_write_back:") == 1
    assert (row["corrected_by"], row["review_annotation_id"], row["corrected_result"]) == (12, 900, box(10))
    assert row["gold_verified"] is True and row["gold_score"] == 1.0
    assert row["status"] == PUSHED  # corrected once the write-back job has run


def test_a_skip_or_an_unknown_task_in_a_relabel_project_is_ignored(store):
    with store.begin() as conn:
        add_relabel_project(conn)
        event = Changes(
            annotations=[
                annotation(1, 400, 12, [], T0, project=40, cancelled=True),
                annotation(2, 401, 12, choice("pos"), T0, project=40),
            ]
        )
        engine.react_to_event(conn, "ANNOTATION_CREATED", event, SERVICE_SETTINGS, 1)
        assert conn.execute(select(relabel_projects.c.webhook_id)).scalar() is None
        assert count_jobs(conn, "relabel_write_back", "") == 0
