"""Offline audit (``lsqa audit``): a streamed export against a gold export, figures and recommendation."""

import doctest
import importlib
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.gold.library import read_export
from plugin.labelconfig import parse_label_config
from plugin.offline.progress import ProgressReader
from plugin.offline.reader import ReadStats, comparisons, stream_tasks
from plugin.offline.run import run_audit
from plugin.offline.synthetic import label_config_xml, reference_profile, write_box_export_files
from plugin.offline.tally import tally_comparisons
from plugin.scoring import score_task

BAD_ANNOTATORS = [20, 21, 22]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """DOMAIN.md's reference case: 3,000 gold frames of 10 boxes, 14 classes, 22 annotators."""
    folder = tmp_path_factory.mktemp("reference")
    export, gold = folder / "export.json", folder / "gold.json"
    truth = write_box_export_files(export, gold, n_tasks=6000, gold_share=0.5, seed=7)
    report, _ = run_audit(export, gold, progress=False)
    return folder, truth, report


def test_audit_reference_case_finds_the_planted_figures(reference):
    _, truth, report = reference
    s = report["summary"]
    assert s["records_compared"] == truth.records == s["tasks_compared"]
    assert s["gold_units"] == truth.units.sum() and s["errors"] == truth.errors.sum()
    assert s["error_rate"] == pytest.approx(truth.error_rate, abs=1e-12)
    assert s["records_with_errors"] == truth.records_with_errors
    classes = {c["label"]: c for c in report["per_class"]}
    for name in truth.classes:
        assert classes[name]["error_rate"] == pytest.approx(truth.class_error_rate(name), abs=1e-12)
    people = {a["annotator"]: a for a in report["per_annotator"]}
    for who in truth.annotator_ids:
        column = truth.annotator_ids.index(who)
        assert people[who]["n"] == truth.units[:, column].sum()
        assert people[who]["error_share"] == pytest.approx(truth.error_share([who]), abs=1e-12)
    assert report["boundary"]["matched_regions"] == sum(len(x) for x in truth.matched_iou)
    assert report["boundary"]["share_iou_070_085"] == pytest.approx(truth.share_iou_070_085(), abs=1e-9)


def test_audit_reference_case_matches_domain_and_recommends_targeted_fix(reference):
    _, _, report = reference
    classes = {c["label"]: c for c in report["per_class"]}
    assert report["summary"]["error_rate"] == pytest.approx(0.124, abs=0.01)
    assert classes["damaged goods"]["error_rate"] == pytest.approx(0.312, abs=0.03)
    assert classes["empty shelf slot"]["error_rate"] == pytest.approx(0.227, abs=0.03)
    bad_share = sum(a["error_share"] for a in report["per_annotator"] if a["annotator"] in BAD_ANNOTATORS)
    assert bad_share == pytest.approx(0.61, abs=0.05)
    assert report["boundary"]["share_iou_070_085"] == pytest.approx(0.081, abs=0.01)
    assert {c["label"] for c in report["per_class"] if c["flagged"]} == {"damaged goods", "empty shelf slot"}
    assert {a["annotator"] for a in report["per_annotator"] if a["flagged"]} == set(BAD_ANNOTATORS)
    plan = report["recommendation"]
    assert plan["strategy"] == "targeted relabeling + guideline revision"
    assert set(plan["annotators"]) == set(BAD_ANNOTATORS)
    assert any("damaged goods" in r for r in plan["reasons"])
    assert report["error_profile"]["primary"] == "systematic"
    assert {"systematic", "boundary"} <= set(report["error_profile"]["kinds"])


def test_audit_box_batch_path_agrees_with_score_task(reference):
    """Per class, the batch path's errors equal the outcomes of the per-task scoring engine."""
    folder, _, _ = reference
    gold = {
        d.source_task_id: d.expert_result
        for d in read_export(json.loads((folder / "gold.json").read_text())).drafts
    }
    config = parse_label_config(label_config_xml(reference_profile()))
    pairs = list(comparisons(stream_tasks(folder / "export.json"), gold, match_on=None, stats=ReadStats()))[
        :400
    ]
    names, _, units, errors, _ = tally_comparisons(pairs, config, chunk_size=97).matrix()
    expected_units, expected_errors = Counter(), Counter()
    for pair in pairs:
        for outcome in score_task(pair.result, pair.gold_result, config).outcomes:
            if outcome.gold is not None:
                expected_units[outcome.gold] += 1
                expected_errors[outcome.gold] += outcome.pred != outcome.gold
    assert dict(zip(names, units.sum(axis=1).tolist(), strict=True)) == dict(expected_units)
    assert {n: e for n, e in zip(names, errors.sum(axis=1).tolist(), strict=True)} == dict(expected_errors)


def test_audit_matches_gold_on_a_data_key(tmp_path):
    export, gold = tmp_path / "export.json", tmp_path / "gold.json"
    truth = write_box_export_files(export, gold, n_tasks=400, gold_share=0.2, seed=3, gold_id_offset=10_000)
    by_id, _ = run_audit(export, gold, progress=False)
    assert by_id["summary"]["records_compared"] == 0  # the gold export's ids belong to another project
    assert by_id["summary"]["gold_tasks_unmatched"] == truth.records
    by_key, _ = run_audit(export, gold, match_on="image", progress=False)
    assert by_key["summary"]["records_compared"] == truth.records
    assert by_key["summary"]["error_rate"] == pytest.approx(truth.error_rate, abs=1e-12)


SPAN_CONFIG = """<View><Text name="text" value="$text"/>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels>
<Choices name="topic" toName="text"><Choice value="news"/><Choice value="sport"/></Choices></View>"""


def _span(start, end, label, rid):
    value = {"start": start, "end": end, "labels": [label]}
    return {"id": rid, "from_name": "ner", "to_name": "text", "type": "labels", "value": value}


def _topic(choice):
    return {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}


def _task(task_id, annotations):
    return {"id": task_id, "data": {"text": "x" * 40}, "annotations": annotations}


def _annotation(who, result, **flags):
    return {"id": who * 100, "completed_by": who, "result": result, "was_cancelled": False, **flags}


def _write(path, tasks):
    path.write_text(json.dumps(tasks))
    return path


@pytest.fixture
def span_files(tmp_path):
    gold_result = [
        _span(0, 5, "PER", "a"),
        _span(10, 15, "ORG", "b"),
        _span(20, 25, "LOC", "c"),
        _topic("news"),
    ]
    good = [_span(0, 4, "PER", "x"), _span(10, 15, "LOC", "y"), _topic("sport"), _span(30, 35, "PER", "z")]
    gold = _write(tmp_path / "gold.json", [_task(1, [_annotation(9, gold_result, ground_truth=True)])])
    export = _write(
        tmp_path / "export.json",
        [
            _task(
                1,
                [
                    _annotation(1, good),
                    _annotation(2, gold_result),
                    _annotation(3, [], was_cancelled=True),
                    _annotation(9, gold_result, ground_truth=True),
                ],
            ),
            _task(2, [_annotation(1, [])]),
        ],
    )
    config = tmp_path / "config.xml"
    config.write_text(SPAN_CONFIG)
    return export, gold, config


@pytest.mark.parametrize("with_config", [True, False])
def test_audit_spans_and_choices_by_hand(span_files, with_config):
    export, gold, config = span_files
    report, _ = run_audit(export, gold, label_config=config if with_config else None, progress=False)
    s = report["summary"]
    # Annotator 1: PER matched (char F1 8/9), ORG given as LOC (error), LOC missing (error), topic wrong
    # (error), one extra span. Annotator 2 equals gold. Skips and ground truth are left out.
    assert (s["records_compared"], s["gold_units"], s["errors"], s["missing"]) == (2, 8, 3, 1)
    assert (s["extras"], s["skipped_cancelled_annotations"], s["skipped_ground_truth_annotations"]) == (
        1,
        1,
        1,
    )
    classes = {c["label"]: (c["n"], c["error_rate"]) for c in report["per_class"]}
    assert classes == {"ORG": (2, 0.5), "LOC": (2, 0.5), "news": (2, 0.5), "PER": (2, 0.0)}
    people = {a["annotator"]: a for a in report["per_annotator"]}
    assert people[1]["accuracy"] == 0.25 and people[1]["error_share"] == 1.0 and people[2]["accuracy"] == 1.0
    span = report["boundary"]["by_kind"]["span"]
    assert span["measure"] == "character F1" and span["matched_regions"] == 5  # 2 + 3 of annotator 2
    assert span["mean"] == pytest.approx((8 / 9 + 4) / 5) and span["share_below_threshold"] == 0.2
    assert report["flagged_records"] == [
        {"record": 1, "annotator": 1, "units": 4, "errors": 3, "missing": 1, "extras": 1}
    ]


@pytest.fixture
def run_cli(capsys, monkeypatch):
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "LSQA_WEBHOOK_SECRET", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)  # an offline audit needs no settings at all

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_audit_writes_report_html_and_records(run_cli, tmp_path):
    export, gold = tmp_path / "export.json", tmp_path / "gold.json"
    truth = write_box_export_files(export, gold, n_tasks=300, gold_share=0.3, seed=5)
    out, html, records = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "flagged.csv"
    code, printed, err = run_cli(
        "audit", "--export", export, "--gold", gold, "--out", out, "--html", html, "--records-out", records
    )
    assert (code, err) == (0, "")
    assert "recommendation:" in printed and f"records compared: {truth.records}" in printed
    report = json.loads(out.read_text())
    assert set(report) >= {"summary", "per_class", "per_annotator", "boundary", "recommendation"}
    assert {"label", "n", "error_rate"} <= set(report["per_class"][0])
    assert {"annotator", "n", "accuracy", "error_share"} <= set(report["per_annotator"][0])
    assert {"matched_regions", "share_iou_070_085"} <= set(report["boundary"])
    assert {"strategy", "reasons"} <= set(report["recommendation"])
    page = html.read_text()
    assert page.count("<svg") == 3 and "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    rows = records.read_text().splitlines()
    assert rows[0] == "record,annotator,units,errors,missing,extras"
    assert len(rows) - 1 == truth.records_with_errors == report["summary"]["records_with_errors"]


def test_cli_audit_html_escapes_labels(run_cli, tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    result = [{"from_name": "c", "to_name": "t", "type": "choices", "value": {"choices": [evil]}}]
    gold = _write(tmp_path / "gold.json", [_task(1, [_annotation(9, result, ground_truth=True)])])
    export = _write(tmp_path / "export.json", [_task(1, [_annotation(1, [])])])
    html = tmp_path / "r.html"
    assert (
        run_cli("audit", "--export", export, "--gold", gold, "--out", tmp_path / "r.json", "--html", html)[0]
        == 0
    )
    assert evil not in html.read_text() and "&lt;img src=x" in html.read_text()


@pytest.mark.parametrize(
    ("export_text", "gold_text", "extra", "message"),
    [
        (None, "[]", [], "lsqa: cannot read the export {export}: No such file or directory"),
        ("[]", None, [], "lsqa: cannot read the gold export {gold}: No such file or directory"),
        ("[]", "{oops", [], "lsqa: the gold export {gold} is not valid JSON"),
        ("[]", "{}", [], "lsqa: the gold export {gold}: the export must be a JSON list of tasks"),
        ("[]", "[]", [], "lsqa: the gold export {gold} holds no task with an expert annotation"),
        ('{"id": 1}', "GOLD", [], "lsqa: the export {export} is not a JSON list of tasks"),
        ('[{"id": 1, "annotations": [', "GOLD", [], "lsqa: the export {export} is not valid JSON"),
        ("[]", "GOLD", ["--label-config", "{bad}"], "lsqa: {bad}: label config is not valid XML"),
        ("[]", "GOLD", ["--out", "{tmp}/no/such/dir/r.json"], "lsqa: cannot write {tmp}/no/such/dir/r.json"),
        (
            "[]",
            "TWICE",
            ["--match-on", "text"],
            "lsqa: the gold export {gold}: two tasks share the match key",
        ),
    ],
)
def test_cli_audit_errors_are_one_line_exit_2(run_cli, tmp_path, export_text, gold_text, extra, message):
    paths = {"export": tmp_path / "export.json", "gold": tmp_path / "gold.json", "bad": tmp_path / "bad.xml"}
    paths["bad"].write_text("<View>")
    gold_task = _task(1, [_annotation(9, [_topic("news")], ground_truth=True)])
    golds = {"GOLD": json.dumps([gold_task]), "TWICE": json.dumps([gold_task, {**gold_task, "id": 2}])}
    if export_text is not None:
        paths["export"].write_text(export_text)
    if gold_text is not None:
        paths["gold"].write_text(golds.get(gold_text, gold_text))
    fill = {**paths, "tmp": tmp_path}
    argv = [a.format(**fill) for a in ["--out", str(tmp_path / "r.json"), *extra]]
    code, out, err = run_cli("audit", "--export", paths["export"], "--gold", paths["gold"], *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message.format(**fill)) and err.count("\n") == 1


def test_progress_reader_draws_only_when_enabled(tmp_path):
    data = b"x" * 1000
    shown = io.StringIO()
    reader = ProgressReader(io.BytesIO(data), len(data), "reading", stream=shown, enabled=True, interval=0)
    while reader.read(300):
        pass
    reader.close()
    assert "100.0%" in shown.getvalue() and shown.getvalue().endswith("\n")
    quiet = io.StringIO()  # not a terminal: nothing at all
    reader = ProgressReader(io.BytesIO(data), len(data), "reading", stream=quiet)
    assert reader.read() == data and quiet.getvalue() == ""


@pytest.mark.parametrize("name", ["plugin.offline.infer", "plugin.offline.jsonstream"])
def test_offline_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_stream_tasks_reads_floats_and_every_task(tmp_path):
    path = Path(tmp_path / "e.json")
    path.write_text(json.dumps([{"id": i, "data": {"v": i / 3}} for i in range(1, 2500)]))
    tasks = list(stream_tasks(path, progress=False))
    assert [t["id"] for t in tasks] == list(range(1, 2500))
    assert isinstance(tasks[1]["data"]["v"], float) and tasks[1]["data"]["v"] == pytest.approx(2 / 3)
