"""Scoring one annotation against gold: every supported tag, discrepancy kinds, weights and overrides."""

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle

from plugin.labelconfig import parse_label_config
from plugin.metrics import score_task as reexported_score_task
from plugin.scoring import ScoringSettings, pairwise_region_f1, score_task

CONFIG = parse_label_config("""
<View>
  <Image name="img" value="$image"/>
  <Text name="txt" value="$text"/>
  <RectangleLabels name="box" toName="img"><Label value="car"/><Label value="van"/></RectangleLabels>
  <PolygonLabels name="poly" toName="img"><Label value="road"/><Label value="lane"/></PolygonLabels>
  <KeyPointLabels name="kp" toName="img"><Label value="eye"/><Label value="nose"/></KeyPointLabels>
  <BrushLabels name="brush" toName="img"><Label value="sky"/><Label value="sea"/></BrushLabels>
  <Rectangle name="rect" toName="img"/>
  <Labels name="rect_labels" toName="img"><Label value="tree"/></Labels>
  <Labels name="ner" toName="txt"><Label value="PER"/><Label value="ORG"/></Labels>
  <Choices name="cls" toName="txt"><Choice value="a"/><Choice value="b"/></Choices>
  <Choices name="tags" toName="txt" choice="multiple">
    <Choice value="x"/><Choice value="y"/><Choice value="z"/>
  </Choices>
  <Taxonomy name="tax" toName="txt">
    <Choice value="A"><Choice value="A1"><Choice value="A1a"/></Choice></Choice>
  </Taxonomy>
  <Rating name="rate" toName="txt"/>
  <Number name="num" toName="txt"/>
  <TextArea name="ta" toName="txt"/>
  <DateTime name="dt" toName="txt"/>
</View>""")
W, H = 200, 100


def img(name, kind, value, rid):
    return {"from_name": name, "to_name": "img", "type": kind, "value": value, "id": rid,
            "original_width": W, "original_height": H, "image_rotation": 0}  # fmt: skip


def txt(name, kind, value, rid=None):
    return {"from_name": name, "to_name": "txt", "type": kind, "value": value, "id": rid}


def box(x, y, w, h, label="car", rid="b1", rotation=0.0):
    value = {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]}
    return img("box", "rectanglelabels", value, rid)


def _mask(rows, cols):
    mask = np.zeros((H, W), np.uint8)
    mask[rows, cols] = 255
    return mask2rle(mask)


GOLD = [
    box(10, 10, 30, 40),
    img("poly", "polygonlabels", {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["road"]}, "p1"),
    img("kp", "keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["eye"]}, "k1"),
    img(
        "brush",
        "brushlabels",
        {"format": "rle", "rle": _mask(slice(10, 40), slice(20, 80)), "brushlabels": ["sky"]},
        "m1",
    ),
    img("rect", "rectangle", {"x": 60, "y": 60, "width": 20, "height": 20, "rotation": 0}, "r1"),
    img(
        "rect_labels",
        "labels",
        {"x": 60, "y": 60, "width": 20, "height": 20, "rotation": 0, "labels": ["tree"]},
        "r1",
    ),
    txt("ner", "labels", {"start": 0, "end": 10, "text": "Alice Bond", "labels": ["PER"]}, "n1"),
    txt("cls", "choices", {"choices": ["a"]}),
    txt("tags", "choices", {"choices": ["x", "y"]}),
    txt("tax", "taxonomy", {"taxonomy": [["A", "A1", "A1a"]]}),
    txt("rate", "rating", {"rating": 4}),
    txt("num", "number", {"number": 3.0}),
    txt("ta", "textarea", {"text": ["Hello world"]}),
    txt("dt", "datetime", {"datetime": "2024-01-31T13:00"}),
]


def _replace(result, index, new):
    out = list(result)
    out[index] = new
    return out


def test_identical_annotation_scores_one_on_every_tag():
    verdict = score_task(GOLD, GOLD, CONFIG)
    assert verdict.score == 1.0 and verdict.passed
    assert set(verdict.tags) == {
        "box",
        "poly",
        "kp",
        "brush",
        "rect",
        "ner",
        "cls",
        "tags",
        "tax",
        "rate",
        "num",
        "ta",
        "dt",
    }
    assert all(t.score == 1.0 and t.passed for t in verdict.tags.values())
    assert verdict.discrepancies == ()
    assert verdict.tags["rect"].outcomes[0].gold == "tree"  # Rectangle + Labels merged by region id
    assert reexported_score_task is score_task


def test_empty_results_score_one_and_one_sided_results_score_zero():
    assert score_task([], [], CONFIG).score == 1.0
    verdict = score_task([], GOLD, CONFIG)
    assert verdict.score == 0.0 and not verdict.passed
    kinds = {d.tag: d.kind for d in verdict.discrepancies}
    assert kinds["box"] == kinds["ner"] == kinds["cls"] == kinds["rate"] == "missing"
    extra = score_task(GOLD, [], CONFIG)
    assert {d.kind for d in extra.discrepancies} == {"extra"}


def test_shifted_box_is_a_boundary_issue_and_far_box_is_missing_plus_extra():
    shifted = score_task(_replace(GOLD, 0, box(15, 10, 30, 40)), GOLD, CONFIG).tags["box"]
    (issue,) = shifted.discrepancies
    assert issue.kind == "boundary" and issue.overlap == pytest.approx(25 / 35)
    assert shifted.score == 1.0  # right object, right class: boundary issues go to review
    far = score_task(_replace(GOLD, 0, box(60, 10, 30, 40)), GOLD, CONFIG).tags["box"]
    assert sorted(d.kind for d in far.discrepancies) == ["extra", "missing"]
    assert far.score == 0.0


def test_wrong_box_label_is_a_label_issue_and_shows_in_class_breakdown():
    verdict = score_task(_replace(GOLD, 0, box(10, 10, 30, 40, label="van")), GOLD, CONFIG)
    (issue,) = verdict.tags["box"].discrepancies
    assert (issue.kind, issue.gold, issue.pred) == ("label", "car", "van")
    tally = verdict.class_breakdown()["box"]["car"]
    assert tally.confused_as == {"van": 1} and tally.correct == 0


def test_matching_prefers_the_box_with_the_right_label():
    pred = [box(10, 10, 30, 40, label="van", rid="p1"), box(11, 10, 30, 40, label="car", rid="p2")]
    verdict = score_task(pred, [GOLD[0]], CONFIG).tags["box"]
    assert sorted(d.kind for d in verdict.discrepancies) == ["extra"]
    assert verdict.discrepancies[0].pred == "van"
    assert verdict.score == pytest.approx(2 / 3)


def test_rotated_box_is_scored_in_pixels():
    rotated = score_task(_replace(GOLD, 0, box(10, 10, 30, 40, rotation=90)), GOLD, CONFIG).tags["box"]
    assert rotated.score == 0.0  # turned about its top-left corner it leaves the gold box
    same = score_task([box(10, 10, 30, 40, rotation=30)], [box(10, 10, 30, 40, rotation=30)], CONFIG)
    assert same.score == pytest.approx(1.0)


def test_negative_box_size_is_flipped_like_label_studio_draws_it():
    flipped = box(40, 50, -30, -40)  # dragged up and left from the bottom-right corner
    assert score_task([flipped], [GOLD[0]], CONFIG).tags["box"].discrepancies == ()


def test_polygon_keypoint_and_brush_discrepancies():
    pred = _replace(
        GOLD,
        1,
        img(
            "poly", "polygonlabels", {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["lane"]}, "p1"
        ),
    )
    pred = _replace(
        pred, 2, img("kp", "keypointlabels", {"x": 53, "y": 50, "width": 1, "keypointlabels": ["eye"]}, "k1")
    )
    pred = _replace(
        pred,
        3,
        img(
            "brush",
            "brushlabels",
            {"format": "rle", "rle": _mask(slice(10, 40), slice(20, 60)), "brushlabels": ["sky"]},
            "m1",
        ),
    )
    tags = score_task(pred, GOLD, CONFIG).tags
    assert [d.kind for d in tags["poly"].discrepancies] == ["label"]
    kp = tags["kp"].discrepancies
    assert [d.kind for d in kp] == ["boundary"] and kp[0].overlap == pytest.approx(
        np.exp(-36 / (2 * (0.025 * np.hypot(W, H)) ** 2))
    )
    brush = tags["brush"].discrepancies
    assert [d.kind for d in brush] == ["boundary"] and brush[0].overlap == pytest.approx(40 / 60)


def test_ner_spans_char_f1_exact_and_boundary():
    short = _replace(GOLD, 6, txt("ner", "labels", {"start": 0, "end": 8, "labels": ["PER"]}, "n1"))
    ner = score_task(short, GOLD, CONFIG).tags["ner"]
    assert ner.score == pytest.approx(16 / 18)
    assert ner.details["exact_f1"] == 0.0 and ner.details["region_f1"] == 1.0
    assert [d.kind for d in ner.discrepancies] == ["boundary"] and not ner.passed
    wrong = _replace(GOLD, 6, txt("ner", "labels", {"start": 0, "end": 10, "labels": ["ORG"]}, "n1"))
    assert [d.kind for d in score_task(wrong, GOLD, CONFIG).tags["ner"].discrepancies] == ["label"]


def test_classification_tags():
    pred = _replace(GOLD, 7, txt("cls", "choices", {"choices": ["b"]}))
    pred = _replace(pred, 8, txt("tags", "choices", {"choices": ["x", "z"]}))
    pred = _replace(pred, 9, txt("tax", "taxonomy", {"taxonomy": [["A", "A1"]]}))
    pred = _replace(pred, 10, txt("rate", "rating", {"rating": 3}))
    pred = _replace(pred, 11, txt("num", "number", {"number": 3.4}))
    pred = _replace(pred, 12, txt("ta", "textarea", {"text": ["hello   World"]}))
    pred = _replace(pred, 13, txt("dt", "datetime", {"datetime": "2024-01-31T13:00:30"}))
    tags = score_task(pred, GOLD, CONFIG).tags
    assert tags["cls"].score == 0.0 and tags["cls"].discrepancies[0].kind == "label"
    assert tags["tags"].score == pytest.approx(1 / 3) and tags["tags"].details["exact"] == 0.0
    assert sorted((d.kind, d.gold, d.pred) for d in tags["tags"].discrepancies) == [
        ("extra", None, "z"),
        ("missing", "y", None),
    ]
    assert tags["tax"].score == pytest.approx(2 / 3)
    assert tags["rate"].score == 0.0 and tags["num"].score == 0.0
    assert tags["ta"].score == 1.0
    assert tags["dt"].score == 0.0
    lenient = ScoringSettings(
        rating_tolerance=1,
        number_tolerance=0.5,
        datetime_tolerance_s=60,
        per_tag={"ta": {"text_case_sensitive": True}},
    )
    tags = score_task(pred, GOLD, CONFIG, lenient).tags
    assert tags["rate"].score == tags["num"].score == tags["dt"].score == 1.0
    assert tags["ta"].score < 1.0


def test_datetime_falls_back_to_text_for_partial_values():
    year = lambda y: [txt("dt", "datetime", {"datetime": y})]  # noqa: E731
    assert score_task(year("2024"), year("2024"), CONFIG).score == 1.0
    assert score_task(year("2024"), year("2023"), CONFIG).score == 0.0


def test_task_score_is_weighted_and_per_tag_thresholds_apply():
    pred = _replace(GOLD, 7, txt("cls", "choices", {"choices": ["b"]}))
    plain = score_task(pred, GOLD, CONFIG)
    assert plain.score == pytest.approx(12 / 13)
    weighted = score_task(pred, GOLD, CONFIG, ScoringSettings(per_tag={"cls": {"weight": 12.0}}))
    assert weighted.score == pytest.approx(0.5) and not weighted.passed
    shifted = _replace(GOLD, 0, box(15, 10, 30, 40))
    strict = score_task(shifted, GOLD, CONFIG, ScoringSettings(per_tag={"box": {"boundary_iou": 0.5}}))
    assert strict.tags["box"].discrepancies == ()


def test_unknown_and_unlabelled_results_are_skipped_by_name():
    stray = [{"from_name": "ghost", "to_name": "img", "type": "choices", "value": {"choices": ["a"]}}]
    verdict = score_task(stray + GOLD, GOLD, CONFIG)
    assert verdict.skipped == ("ghost",) and verdict.score == 1.0


def test_settings_validate_values():
    with pytest.raises(ValueError):
        ScoringSettings(match_iou=0.0)
    with pytest.raises(ValueError):
        ScoringSettings(per_tag={"box": {"match_ious": 0.3}})
    with pytest.raises(ValueError):
        ScoringSettings(boundary_iou=1.5)


def test_pairwise_region_f1_is_symmetric():
    a = [box(10, 10, 30, 40), box(60, 10, 20, 20, rid="b2"), GOLD[6]]
    b = [box(11, 10, 30, 40), txt("ner", "labels", {"start": 0, "end": 9, "labels": ["PER"]}, "n9")]
    ab, ba = pairwise_region_f1(a, b, CONFIG), pairwise_region_f1(b, a, CONFIG)
    assert ab == ba
    assert ab["box"] == pytest.approx(2 / 3) and ab["ner"] == 1.0 and ab["poly"] == 1.0
