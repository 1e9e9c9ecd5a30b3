"""Reading gold drafts from Label Studio JSON exports: pick policies, shapes, classes per tag type."""

import doctest
import json

import pytest

import plugin.gold.library
from plugin.gold import GoldError, classes_of, parse_export_text, read_export
from plugin.labelconfig import parse_label_config

CHOICE = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["Positive"]}}]
OTHER = [{"from_name": "s", "to_name": "t", "type": "choices", "value": {"choices": ["Negative"]}}]


def annotation(aid, result=CHOICE, *, gt=False, cancelled=False, updated=None, created=None):
    return {
        "id": aid,
        "result": result,
        "ground_truth": gt,
        "was_cancelled": cancelled,
        "completed_by": 1,
        "updated_at": updated,
        "created_at": created or "2024-01-01T00:00:00Z",
    }


def task(tid, *annotations, project=3):
    return {"id": tid, "project": project, "data": {"text": f"task {tid}"}, "annotations": list(annotations)}


def test_read_export_takes_the_one_ground_truth_annotation():
    export = [task(1, annotation(10, OTHER), annotation(11, CHOICE, gt=True))]
    (draft,) = read_export(export).drafts
    assert (draft.source_task_id, draft.source_project_id) == (1, 3)
    assert draft.data == {"text": "task 1"}
    assert draft.expert_result == CHOICE
    assert draft.classes == ("Positive",)


def test_read_export_ignores_cancelled_ground_truth():
    export = [task(1, annotation(10, [], gt=True, cancelled=True), annotation(11, gt=True))]
    assert read_export(export).drafts[0].expert_result == CHOICE


def test_read_export_without_project_field_leaves_source_project_empty():
    export = [{"id": 5, "data": {"x": 1}, "annotations": [annotation(1, gt=True)]}]
    assert read_export(export).drafts[0].source_project_id is None


def test_read_export_refuses_ambiguous_tasks_naming_them():
    export = [task(i) for i in range(1, 8)] + [task(20, annotation(1, gt=True), annotation(2, gt=True))]
    with pytest.raises(GoldError) as error:
        read_export(export)
    message = str(error.value)
    assert "\n" not in message
    assert "7 tasks without a ground-truth annotation (1, 2, 3, 4, 5, ... 2 more)" in message
    assert "1 task with several (20)" in message
    assert "--pick" in message


def test_read_export_pick_latest_and_earliest_among_ground_truth():
    export = [
        task(
            1,
            annotation(10, CHOICE, gt=True, updated="2024-03-01T10:00:00Z"),
            annotation(11, OTHER, gt=True, updated="2024-03-02T10:00:00+00:00"),
            annotation(12, CHOICE, updated="2024-05-01T10:00:00Z"),  # newest, but not ground truth
        )
    ]
    assert read_export(export, pick="latest").drafts[0].expert_result == OTHER
    assert read_export(export, pick="earliest").drafts[0].expert_result == CHOICE


def test_read_export_pick_latest_falls_back_to_submitted_annotations():
    export = [
        task(
            1,
            annotation(10, CHOICE, created="2024-01-01T00:00:00Z"),
            annotation(11, OTHER, created="2024-01-02T00:00:00Z"),
            annotation(12, [], cancelled=True, created="2024-02-01T00:00:00Z"),
        )
    ]
    assert read_export(export, pick="latest").drafts[0].expert_result == OTHER
    assert read_export(export, pick="earliest").drafts[0].expert_result == CHOICE


def test_read_export_pick_latest_leaves_out_tasks_without_any_answer():
    export = [task(1), task(2, annotation(5, [], cancelled=True)), task(3, annotation(6, gt=True))]
    result = read_export(export, pick="latest")
    assert [d.source_task_id for d in result.drafts] == [3]
    assert result.skipped_task_ids == (1, 2)


def test_read_export_pick_skip_leaves_out_ambiguous_tasks():
    export = [
        task(1),
        task(2, annotation(1, gt=True), annotation(2, gt=True)),
        task(3, annotation(3, gt=True)),
    ]
    result = read_export(export, pick="skip")
    assert [d.source_task_id for d in result.drafts] == [3]
    assert result.skipped_task_ids == (1, 2)


def test_read_export_ties_on_time_break_by_annotation_id():
    same = "2024-01-01T00:00:00Z"
    export = [
        task(1, annotation(7, OTHER, gt=True, updated=same), annotation(9, CHOICE, gt=True, updated=same))
    ]
    assert read_export(export, pick="latest").drafts[0].expert_result == CHOICE


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"id": 1}, "^the export must be a JSON list of tasks, not an object$"),
        ([3], "^task #1 of the export is a number, not an object$"),
        ([{"id": "x", "data": {}}], "^task #1 of the export has a non-integer id 'x'$"),
        ([{"id": 4, "data": "hello"}], "^task 4: 'data' must be an object$"),
        ([{"id": 4, "data": {}, "annotations": {}}], "^task 4: 'annotations' must be a list$"),
        ([task(4, annotation(8, {"choices": []}, gt=True))], "^task 4: annotation 8 'result' must be a list"),
        ([task(4, annotation(8, ["Positive"], gt=True))], "^task 4: annotation 8 'result' must be a list"),
        (
            [task(4, annotation(8, gt=True, updated="yesterday"), annotation(9, gt=True))],
            "^task 4: annotation 8 has a bad timestamp 'yesterday'$",
        ),
    ],
)
def test_read_export_rejects_wrong_shapes_in_one_line(export, message):
    with pytest.raises(GoldError, match=message):
        read_export(export, pick="latest")


def test_read_export_rejects_unknown_pick_policy():
    with pytest.raises(GoldError, match="unknown pick policy 'newest'"):
        read_export([], pick="newest")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "[{", "not json", b"\xff\xfe"])
def test_parse_export_text_rejects_invalid_json_in_one_line(text):
    with pytest.raises(GoldError, match="^the export is not valid JSON: ") as error:
        parse_export_text(text)
    assert "\n" not in str(error.value)


def test_parse_export_text_reads_bytes():
    text = json.dumps([task(1, annotation(2, gt=True))]).encode()
    assert len(parse_export_text(text).drafts) == 1


CONFIG = parse_label_config(
    """
<View>
  <Image name="img" value="$image"/>
  <Text name="txt" value="$text"/>
  <Choices name="kind" toName="img" choice="multiple"><Choice value="Day"/><Choice value="Night"/></Choices>
  <RectangleLabels name="box" toName="img"><Label value="Car"/><Label value="Bus"/></RectangleLabels>
  <PolygonLabels name="poly" toName="img"><Label value="Road"/></PolygonLabels>
  <KeyPointLabels name="kp" toName="img"><Label value="Eye"/></KeyPointLabels>
  <BrushLabels name="mask" toName="img"><Label value="Sky"/></BrushLabels>
  <Rectangle name="rect" toName="img"/>
  <Labels name="rect_label" toName="img"><Label value="Tree"/></Labels>
  <Labels name="ner" toName="txt"><Label value="PER"/></Labels>
  <Taxonomy name="tax" toName="txt"><Choice value="Animal"><Choice value="Cat"/></Choice></Taxonomy>
  <Rating name="stars" toName="txt"/>
  <Number name="count" toName="txt"/>
  <TextArea name="note" toName="txt"/>
</View>"""
)


def result(from_name, type_, value):
    return {"id": from_name, "from_name": from_name, "to_name": "img", "type": type_, "value": value}


EVERY_TYPE = [
    result("kind", "choices", {"choices": ["Day", "Night"]}),
    result("box", "rectanglelabels", {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": ["Car"]}),
    result("box", "rectanglelabels", {"x": 5, "y": 2, "width": 3, "height": 4, "rectanglelabels": ["Car"]}),
    result("poly", "polygonlabels", {"points": [[1, 2], [3, 4], [5, 1]], "polygonlabels": ["Road"]}),
    result("kp", "keypointlabels", {"x": 1, "y": 2, "keypointlabels": ["Eye"]}),
    result("mask", "brushlabels", {"format": "rle", "rle": [1, 2], "brushlabels": ["Sky"]}),
    # A Labels tag paired with a Rectangle writes rectanglelabels results under its own name.
    result(
        "rect_label",
        "rectanglelabels",
        {"x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["Tree"]},
    ),
    result("rect", "rectangle", {"x": 1, "y": 1, "width": 2, "height": 2}),
    result("ner", "labels", {"start": 0, "end": 4, "text": "John", "labels": ["PER"]}),
    result("tax", "taxonomy", {"taxonomy": [["Animal", "Cat"], ["Animal"]]}),
    result("stars", "rating", {"rating": 4}),
    result("count", "number", {"number": 7}),
    result("note", "textarea", {"text": ["looks fine"]}),
]
EVERY_CLASS = ("Animal", "Animal / Cat", "Car", "Day", "Eye", "Night", "PER", "Road", "Sky", "Tree")


@pytest.mark.parametrize("config", [CONFIG, None], ids=["with-config", "without-config"])
def test_classes_of_every_result_type(config):
    assert classes_of(EVERY_TYPE, config) == EVERY_CLASS


def test_classes_of_uses_the_config_to_ignore_tags_without_classes():
    # A TextArea's value never names a class, even when a key happens to look like one.
    odd = [result("note", "textarea", {"text": ["x"], "labels": ["NotAClass"]})]
    assert classes_of(odd, CONFIG) == ()
    assert classes_of(odd, None) == ("NotAClass",)


def test_classes_of_tag_unknown_to_the_config_falls_back_to_its_type():
    per_region = [result("extra", "choices", {"choices": ["Blurry"]}), result("x", "rating", {"rating": 1})]
    assert classes_of(per_region, CONFIG) == ("Blurry",)


def test_classes_of_skips_malformed_values():
    odd = [
        {"type": "choices"},
        result("kind", "choices", {"choices": "Day"}),
        result("tax", "taxonomy", {"taxonomy": [[]]}),
    ]
    assert classes_of(odd, CONFIG) == ()


def test_read_export_uses_the_config_for_classes():
    export = [task(1, annotation(1, EVERY_TYPE, gt=True))]
    assert read_export(export, config=CONFIG).drafts[0].classes == EVERY_CLASS


def test_library_docstring_examples():
    assert doctest.testmod(plugin.gold.library).failed == 0
