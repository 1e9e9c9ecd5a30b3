"""The live report (``lsqa report``, ``GET /api/v1/projects/<id>/report``) from the store's gold answers."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from plugin.cli import main
from plugin.gold.library import read_export
from plugin.offline.cli import format_summary
from plugin.offline.html import render_html
from plugin.offline.live import live_report
from plugin.offline.reader import ReadStats, comparisons, stream_tasks
from plugin.offline.run import run_audit
from plugin.offline.synthetic import label_config_xml, reference_profile, write_box_export_files
from plugin.records import Changes, ProjectRecord
from plugin.settings import load_settings
from plugin.store.domain import apply_changes
from plugin.store.gold import add_gold_items
from plugin.store.schema import gold_answers, gold_items
from webhooks.app import create_app

PROJECT = 7
TOKEN = "report-token-0123456789"
FIGURES = ("per_class", "per_annotator", "boundary", "error_profile", "recommendation")


@pytest.fixture
def seeded(tmp_path, store):
    """A project whose gold answers are the gold tasks of a synthetic export; and its offline report."""
    export, gold = tmp_path / "export.json", tmp_path / "gold.json"
    write_box_export_files(export, gold, n_tasks=240, gold_share=0.5, seed=11)
    offline, _ = run_audit(export, gold, progress=False)
    drafts = read_export(json.loads(gold.read_text())).drafts
    expert = {d.source_task_id: d.expert_result for d in drafts}
    with store.begin() as conn:
        apply_changes(
            conn,
            Changes(projects=[ProjectRecord(PROJECT, "shelves", label_config_xml(reference_profile()))]),
            seq=2,
        )
        add_gold_items(conn, PROJECT, drafts, "import")
        rows = conn.execute(select(gold_items.c.source_task_id, gold_items.c.id)).all()
        item_of = {task: item for task, item in rows}
        pairs = comparisons(stream_tasks(export, progress=False), expert, match_on=None, stats=ReadStats())
        for n, pair in enumerate(pairs):
            conn.execute(
                gold_answers.insert().values(
                    project_id=PROJECT,
                    item_id=item_of[pair.record],
                    annotator_id=pair.annotator,
                    copy_id=n + 1,
                    annotation_id=1000 + n,
                    purpose="regular",
                    result=pair.result,
                    score=0.0,
                    passed=False,
                    outcomes=[],
                    answered_at=datetime.now(UTC),
                )
            )
    return offline


def test_live_report_equals_the_offline_audit_of_the_same_answers(store, seeded):
    with store.read() as conn:
        live = live_report(conn, PROJECT)
    for key in FIGURES:
        assert live[key] == seeded[key], key
    for key in ("error_rate", "records_compared", "gold_units", "errors", "records_with_errors"):
        assert live["summary"][key] == seeded["summary"][key]
    assert live["source"]["gold_items"] == seeded["summary"]["gold_tasks"]


def test_report_api_needs_the_token_and_knows_its_projects(store, store_url, seeded):
    env = {
        "LABEL_STUDIO_URL": "http://x",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
        "LSQA_API_TOKEN": TOKEN,
    }
    client = create_app(load_settings(None, env=env), store=store).test_client()
    assert client.get(f"/api/v1/projects/{PROJECT}/report").status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = client.get(f"/api/v1/projects/{PROJECT}/report", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    for key in FIGURES:
        assert body[key] == seeded[key], key
    assert body["summary"]["error_rate"] == seeded["summary"]["error_rate"]
    text = response.get_data(as_text=True)
    assert "rectanglelabels" not in text and '"x"' not in text  # no expert (or annotator) results
    missing = client.get("/api/v1/projects/999/report", headers=auth)
    assert missing.status_code == 404 and "not known" in missing.get_json()["error"]


def test_cli_report(store_url, seeded, tmp_path, capsys, monkeypatch):
    for name in ("LSQA_DATABASE_URL", "LSQA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "lsqa.yaml"
    config.write_text(
        "label_studio:\n  url: http://127.0.0.1:9\n  api_key: k\nwebhook:\n  secret: 0123456789abcdef0123\n"
        f"database:\n  url: {store_url}\n"
    )
    out = tmp_path / "report.json"
    assert (
        main(["--config", str(config), "report", "--project", str(PROJECT), "--json", "--out", str(out)]) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed["recommendation"] == seeded["recommendation"] == json.loads(out.read_text())["recommendation"]
    )
    assert main(["--config", str(config), "report", "-p", str(PROJECT)]) == 0
    assert "recommendation: " in capsys.readouterr().out
    assert main(["--config", str(config), "report", "-p", "999"]) == 2
    assert capsys.readouterr().err == "lsqa: project 999 is not known here: run lsqa connect\n"


def test_live_report_of_a_project_without_gold_answers(store):
    with store.begin() as conn:
        apply_changes(conn, Changes(projects=[ProjectRecord(8, "new", None)]), seq=2)
    with store.read() as conn:
        report = live_report(conn, 8)
    assert report["summary"]["records_compared"] == 0 and report["summary"]["error_rate"] == 0.0
    assert report["per_class"] == [] and report["boundary"]["matched_regions"] == 0
    assert report["recommendation"]["strategy"] is None
    assert "no recommendation" in render_html(report) and "recommendation: none" in format_summary(report)
