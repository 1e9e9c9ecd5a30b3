"""The scoring engine on results that a real Label Studio stored and exported.

Two annotators label the same tasks through the harness (as the UI does): one gives the gold answer,
the other a variant per task (identical, shifted box, wrong labels, missing regions, smaller mask...).
The annotations are read back from Label Studio's JSON export and scored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle
from lsharness import Annotator, LabelStudioServer

from plugin.labelconfig import parse_label_config
from plugin.scoring import pairwise_region_f1, score_task

pytestmark = pytest.mark.integration

LABEL_CONFIG = """
<View>
  <Image name="img" value="$image"/>
  <Text name="txt" value="$text"/>
  <RectangleLabels name="box" toName="img" canRotate="true">
    <Label value="car"/><Label value="van"/>
  </RectangleLabels>
  <PolygonLabels name="poly" toName="img"><Label value="road"/><Label value="lane"/></PolygonLabels>
  <KeyPointLabels name="kp" toName="img"><Label value="eye"/><Label value="nose"/></KeyPointLabels>
  <BrushLabels name="brush" toName="img"><Label value="sky"/><Label value="sea"/></BrushLabels>
  <Labels name="ner" toName="txt"><Label value="PER"/><Label value="ORG"/></Labels>
  <Choices name="cls" toName="txt"><Choice value="a"/><Choice value="b"/></Choices>
  <Choices name="tags" toName="txt" choice="multiple"><Choice value="x"/><Choice value="y"/></Choices>
  <Taxonomy name="tax" toName="txt"><Choice value="A"><Choice value="A1"/></Choice></Taxonomy>
  <Rating name="rate" toName="txt"/>
  <Number name="num" toName="txt"/>
  <TextArea name="ta" toName="txt"/>
  <DateTime name="dt" toName="txt"/>
</View>
"""
W, H = 200, 100
TEXT = "Alice Bond works at Acme."


def _img(name: str, kind: str, value: dict[str, Any], rid: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "img", "type": kind, "value": value, "id": rid,
            "original_width": W, "original_height": H, "image_rotation": 0}  # fmt: skip


def _txt(name: str, kind: str, value: dict[str, Any], rid: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "txt", "type": kind, "value": value, "id": rid}


def _box(x: float, label: str = "car", rotation: float = 0.0) -> dict[str, Any]:
    value = {"x": x, "y": 10, "width": 30, "height": 40, "rotation": rotation, "rectanglelabels": [label]}
    return _img("box", "rectanglelabels", value, "box1")


def _brush(right: int) -> dict[str, Any]:
    mask = np.zeros((H, W), np.uint8)
    mask[10:40, 20:right] = 255
    return _img(
        "brush", "brushlabels", {"format": "rle", "rle": mask2rle(mask), "brushlabels": ["sky"]}, "brush1"
    )


def _ner(end: int, label: str = "PER") -> dict[str, Any]:
    return _txt("ner", "labels", {"start": 0, "end": end, "text": TEXT[:end], "labels": [label]}, "ner1")


def _gold() -> list[dict[str, Any]]:
    return [
        _box(10),
        _img(
            "poly",
            "polygonlabels",
            {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["road"]},
            "poly1",
        ),
        _img("kp", "keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["eye"]}, "kp1"),
        _brush(80),
        _ner(10),
        _txt("cls", "choices", {"choices": ["a"]}, "cls1"),
        _txt("tags", "choices", {"choices": ["x", "y"]}, "tags1"),
        _txt("tax", "taxonomy", {"taxonomy": [["A", "A1"]]}, "tax1"),
        _txt("rate", "rating", {"rating": 4}, "rate1"),
        _txt("num", "number", {"number": 3}, "num1"),
        _txt("ta", "textarea", {"text": ["Hello world"]}, "ta1"),
        _txt("dt", "datetime", {"datetime": "2024-01-31T13:00"}, "dt1"),
    ]


def _variant(scenario: str) -> list[dict[str, Any]]:
    result = _gold()
    if scenario == "shifted_box":
        result[0] = _box(15)
    elif scenario == "wrong_labels":
        result[0], result[4] = _box(10, label="van"), _ner(10, label="ORG")
        result[5] = _txt("cls", "choices", {"choices": ["b"]}, "cls1")
    elif scenario == "missing_regions":
        result = [r for r in result if r["from_name"] not in ("poly", "kp")]
    elif scenario == "sloppy":
        result[3], result[4] = _brush(60), _ner(8)
        result[7] = _txt("tax", "taxonomy", {"taxonomy": [["A"]]}, "tax1")
        result[10] = _txt("ta", "textarea", {"text": ["hello   World"]}, "ta1")
    elif scenario == "rotated_box":
        result[0] = _box(10, rotation=90)
    return result


SCENARIOS = ["identical", "shifted_box", "wrong_labels", "missing_regions", "sloppy", "rotated_box"]


def _label_all(annotator: Annotator, project_id: int, answer: Callable[[int], list[dict[str, Any]]]) -> None:
    while (task := annotator.next_task(project_id)) is not None:
        annotator.submit(task["id"], answer(task["id"]), project_id=project_id)


@pytest.fixture(scope="module")
def exported(ls_server: LabelStudioServer) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{scenario: {"gold": result, "pred": result}}`` as read back from Label Studio's export."""
    project_id = ls_server.create_project("scoring real results", LABEL_CONFIG, maximum_annotations=2)
    tasks = [{"image": f"https://example.invalid/{s}.png", "text": TEXT, "scenario": s} for s in SCENARIOS]
    task_ids = ls_server.import_tasks(project_id, tasks)
    scenario_of = dict(zip(task_ids, SCENARIOS, strict=True))
    expert, annotator = ls_server.create_annotator(), ls_server.create_annotator()
    try:
        _label_all(expert, project_id, lambda task_id: _gold())
        _label_all(annotator, project_id, lambda task_id: _variant(scenario_of[task_id]))
    finally:
        expert.close()
        annotator.close()
    export = ls_server.api.json("GET", f"/api/projects/{project_id}/export?exportType=JSON")
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for task in export:
        by_user = {a["completed_by"]: a["result"] for a in task["annotations"]}
        out[task["data"]["scenario"]] = {"gold": by_user[expert.id], "pred": by_user[annotator.id]}
    assert sorted(out) == sorted(SCENARIOS)
    return out


CONFIG = parse_label_config(LABEL_CONFIG)


def _kinds(verdict, tag: str) -> list[str]:
    return sorted(d.kind for d in verdict.tags[tag].discrepancies)


def test_exported_results_keep_what_scoring_reads(exported):
    gold = exported["identical"]["gold"]
    assert {r["type"] for r in gold} >= {
        "rectanglelabels",
        "polygonlabels",
        "keypointlabels",
        "brushlabels",
        "labels",
    }
    box = next(r for r in gold if r["from_name"] == "box")
    assert (box["original_width"], box["original_height"]) == (W, H)


def test_identical_annotation_scores_one_on_every_tag(exported):
    verdict = score_task(exported["identical"]["pred"], exported["identical"]["gold"], CONFIG)
    assert verdict.score == 1.0 and verdict.passed and verdict.skipped == ()
    assert len(verdict.tags) == 12
    assert verdict.discrepancies == ()


def test_shifted_box_is_a_boundary_issue(exported):
    verdict = score_task(exported["shifted_box"]["pred"], exported["shifted_box"]["gold"], CONFIG)
    assert _kinds(verdict, "box") == ["boundary"]
    assert verdict.tags["box"].discrepancies[0].overlap == pytest.approx(25 / 35)
    assert verdict.score == 1.0


def test_wrong_labels_are_label_issues_and_confusions(exported):
    verdict = score_task(exported["wrong_labels"]["pred"], exported["wrong_labels"]["gold"], CONFIG)
    assert _kinds(verdict, "box") == _kinds(verdict, "ner") == _kinds(verdict, "cls") == ["label"]
    breakdown = verdict.class_breakdown()
    assert breakdown["box"]["car"].confused_as == {"van": 1}
    assert breakdown["ner"]["PER"].confused_as == {"ORG": 1}
    assert not verdict.passed


def test_missing_regions_are_reported_missing(exported):
    verdict = score_task(exported["missing_regions"]["pred"], exported["missing_regions"]["gold"], CONFIG)
    assert _kinds(verdict, "poly") == _kinds(verdict, "kp") == ["missing"]
    assert verdict.tags["poly"].score == verdict.tags["kp"].score == 0.0


def test_sloppy_mask_span_taxonomy_and_text(exported):
    verdict = score_task(exported["sloppy"]["pred"], exported["sloppy"]["gold"], CONFIG)
    assert _kinds(verdict, "brush") == ["boundary"]
    assert verdict.tags["brush"].discrepancies[0].overlap == pytest.approx(40 / 60)
    assert _kinds(verdict, "ner") == ["boundary"] and verdict.tags["ner"].score == pytest.approx(16 / 18)
    assert verdict.tags["tax"].score == pytest.approx(0.5)
    assert verdict.tags["ta"].score == 1.0


def test_rotated_box_leaves_the_gold_box(exported):
    verdict = score_task(exported["rotated_box"]["pred"], exported["rotated_box"]["gold"], CONFIG)
    assert _kinds(verdict, "box") == ["extra", "missing"]


def test_pairwise_agreement_on_exported_regions(exported):
    scores = pairwise_region_f1(exported["shifted_box"]["pred"], exported["shifted_box"]["gold"], CONFIG)
    assert scores == {"box": 1.0, "poly": 1.0, "kp": 1.0, "brush": 1.0, "ner": 1.0}
    missing = pairwise_region_f1(
        exported["missing_regions"]["pred"], exported["missing_regions"]["gold"], CONFIG
    )
    assert missing["poly"] == missing["kp"] == 0.0
