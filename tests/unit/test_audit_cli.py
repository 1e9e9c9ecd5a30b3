"""``lsqa audit-log export|verify``: exports that read back to the same rows and verify on their
own, and one-line verdicts with the exit codes scripts rely on."""

import json

import pytest
from audittools import append, tamper

from plugin.audit.trail_io import iter_rows, read_rows
from plugin.cli import main


@pytest.fixture
def cli_env(monkeypatch, store_url):
    for name, value in {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LSQA_CONFIG", raising=False)


def stored_rows(store):
    with store.read() as conn:
        return list(iter_rows(conn))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_audit_log_export_reads_back_and_verifies(store, cli_env, tmp_path, capsys, fmt):
    append(store, 6, project_id=7)
    append(store, 4, project_id=None, actor="annotator:3")
    out = tmp_path / f"trail.{fmt}"
    assert main(["audit-log", "export", "--format", fmt, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"10 audit rows written to {out}"
    with out.open(newline="") as handle:
        assert list(read_rows(handle, fmt)) == stored_rows(store)
    assert main(["audit-log", "verify", "--file", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "audit trail OK: 10 rows, hash chain intact"


def test_audit_log_export_of_one_project(store, cli_env, capsys):
    append(store, 6, project_id=7)
    append(store, 4, project_id=8)
    assert main(["audit-log", "export", "--project", "8"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["seq"] for row in lines] == [7, 8, 9, 10]
    assert {row["project_id"] for row in lines} == {8} and lines[0]["facts"] == {"i": 0}


def test_audit_log_verify_reports_ok_then_the_first_bad_row(store, cli_env, capsys):
    append(store, 10)
    assert main(["audit-log", "verify"]) == 0
    head = stored_rows(store)[-1].hash
    assert capsys.readouterr().out.splitlines() == [
        f"audit trail OK: 10 rows, hash chain intact, head {head}"
    ]
    tamper(store, "DELETE FROM audit_log WHERE seq IN (3, 8)")
    assert main(["audit-log", "verify"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("audit trail BROKEN at row 3 (removed)")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_audit_log_verify_file_names_moved_and_missing_lines(store, cli_env, tmp_path, capsys):
    append(store, 8)
    out = tmp_path / "trail.jsonl"
    main(["audit-log", "export", "--out", str(out)])
    lines = out.read_text().splitlines()
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_text("\n".join(lines[:4] + [lines[5], lines[4]] + lines[6:]) + "\n")
    missing = tmp_path / "missing.jsonl"
    missing.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines[:6] + [lines[6].replace('"i":', '"i":1')] + lines[7:]) + "\n")
    capsys.readouterr()
    verdicts = {}
    for path in (swapped, missing, edited):
        assert main(["audit-log", "verify", "--file", str(path)]) == 1
        verdicts[path.stem] = capsys.readouterr().out.strip()
    assert verdicts["swapped"].startswith("audit trail BROKEN at row 6 (reordered)")
    assert verdicts["missing"].startswith("audit trail BROKEN at row 3 (removed)")
    assert verdicts["edited"].startswith("audit trail BROKEN at row 7 (edited)")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_audit_log_verify_file_that_is_not_a_trail(store, cli_env, tmp_path, capsys):
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    assert main(["audit-log", "verify", "--file", str(junk)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lsqa: ") and "header" in err[0]
    assert main(["audit-log", "verify", "--file", str(tmp_path / "none.jsonl")]) == 2
