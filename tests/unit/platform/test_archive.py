"""The archive: sealed folders, the hash-chained ledger, verify naming what changed, retention.

These tests seal runs with synthetic artifacts (the archive does not read them)
through the same Archive.seal_run the runner uses; tests/notebooks/ seals real runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubebook.archive import Archive, parse_since
from kubebook.archive.store import is_sealed
from kubebook.cli import main
from kubebook.errors import ParameterError

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def seal(archive: Archive, run_id: str, started: datetime, status: str = "succeeded",
         runbook: str = "audit") -> Path:
    results = json.dumps({"run_id": run_id, "status": status}).encode()
    return archive.seal_run(run_id=run_id, runbook=runbook, started=started, ended=started + timedelta(seconds=2),
                            status=status, exit_code=0 if status == "succeeded" else 1, trigger="cli",
                            artifacts={"notebook.ipynb": b"{}", "report.html": f"<p>{run_id}</p>".encode(),
                                       "results.json": results})


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive(tmp_path / "reports")
    for i in range(3):
        seal(archive, f"run-{i}", T0 + timedelta(hours=i))
    return archive


def test_sealed_run_folder_layout_and_read_only(archive: Archive) -> None:
    folder = archive.root / "audit" / "2026" / "03" / "run-0"
    assert sorted(p.name for p in folder.iterdir()) == ["notebook.ipynb", "report.html", "results.json"]
    assert is_sealed(folder)
    assert not list(folder.parent.glob(".*")), "no staging folder is left behind"
    lines = (archive.root / "ledger.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    assert archive.verify() == []


def test_index_lists_every_run_newest_first(archive: Archive) -> None:
    index = json.loads((archive.root / "index.json").read_text())
    assert [r["run_id"] for r in index["runs"]] == ["run-2", "run-1", "run-0"]
    html = (archive.root / "index.html").read_text()
    assert 'href="audit/2026/03/run-1/report.html"' in html


def test_index_shows_each_runs_score_and_outcome(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "reports")
    records = {"score": 91.5, "decision": {"state": "dry run", "counts": {}}}
    archive.seal_run(run_id="scored", runbook="audit", started=T0, ended=T0, status="succeeded", exit_code=0,
                     trigger="cli", artifacts={"notebook.ipynb": b"{}", "report.html": b"<p></p>",
                                               "results.json": json.dumps({"records": records}).encode()})
    seal(archive, "bare", T0 + timedelta(hours=1))  # no records: listed, no score
    archive.seal_run(run_id="guarded", runbook="fix", started=T0, ended=T0, status="succeeded", exit_code=0,
                     trigger="cli", artifacts={"notebook.ipynb": b"{}", "report.html": b"<p></p>", "results.json":
                                               json.dumps({"records": {"outcome": {"state": "applied"},
                                                                       "status": "ok"}}).encode()})
    rows = {r["run_id"]: r for r in json.loads((archive.root / "index.json").read_text())["runs"]}
    assert rows["guarded"]["outcome"] == "applied"  # a recorded guard decision shows its state
    assert (rows["scored"]["score"], rows["scored"]["outcome"]) == (91.5, "dry run")
    assert rows["bare"]["score"] is None and rows["bare"]["outcome"] is None
    html = (archive.root / "index.html").read_text()
    assert "<th>Score</th><th>Outcome</th>" in html and "<td>91.5</td><td>dry run</td>" in html


def test_list_runs_filters(archive: Archive) -> None:
    seal(archive, "run-x", T0 + timedelta(days=1), status="failed", runbook="dr")
    assert [r.run_id for r in archive.list_runs(runbook="dr")] == ["run-x"]
    assert [r.run_id for r in archive.list_runs(status="failed")] == ["run-x"]
    assert [r.run_id for r in archive.list_runs(since=T0 + timedelta(hours=1, minutes=30))] == ["run-x", "run-2"]
    assert parse_since("2026-03-02") == datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ParameterError):
        parse_since("last tuesday")


def _chmod_writable(path: Path) -> None:
    path.chmod(0o755 if path.is_dir() else 0o644)


def test_verify_names_a_modified_artifact(archive: Archive) -> None:
    target = archive.root / "audit/2026/03/run-1/report.html"
    _chmod_writable(target)
    target.write_text("<p>all good, honestly</p>")
    assert archive.verify() == ["audit/2026/03/run-1/report.html: modified (its SHA-256 differs from the ledger's)"]


def test_verify_names_a_deleted_artifact(archive: Archive) -> None:
    folder = archive.root / "audit/2026/03/run-2"
    _chmod_writable(folder)
    (folder / "results.json").unlink()
    assert archive.verify() == ["audit/2026/03/run-2/results.json: deleted"]


def test_verify_names_reordered_ledger_lines(archive: Archive) -> None:
    ledger = archive.root / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    ledger.write_text("\n".join(lines) + "\n")
    problems = archive.verify()
    assert any(p.startswith("ledger.jsonl line 2 (run-2): seq is 3, expected 2") for p in problems), problems
    assert any(p.startswith("ledger.jsonl line 3 (run-1): seq is 2, expected 3") for p in problems), problems
    assert any("line 2 (run-2): previous-entry hash does not match line 1" in p for p in problems), problems


def test_verify_names_an_edited_or_deleted_ledger_entry(archive: Archive) -> None:
    ledger = archive.root / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    edited = json.loads(lines[0])
    edited["status"] = "failed"
    ledger.write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n")
    problems = archive.verify()
    assert problems == ["ledger.jsonl line 2 (run-1): previous-entry hash does not match line 1 "
                        "(an entry was modified, deleted or re-ordered)"]
    ledger.write_text("\n".join([lines[0], lines[2]]) + "\n")
    problems = archive.verify()
    assert any("line 2 (run-2): seq is 3, expected 2" in p for p in problems), problems
    assert any("audit/2026/03/run-1: run folder not in the ledger" in p for p in problems), problems


def test_verify_names_added_files_planted_and_deleted_folders(archive: Archive) -> None:
    folder = archive.root / "audit/2026/03/run-0"
    _chmod_writable(folder)
    (folder / "extra.txt").write_text("added later")
    planted = archive.root / "audit/2026/03/run-planted"
    planted.mkdir()
    gone = archive.root / "audit/2026/03/run-2"
    _chmod_writable(gone)
    for child in gone.iterdir():
        child.unlink()
    gone.rmdir()
    assert archive.verify() == [
        "audit/2026/03/run-0/extra.txt: not in the ledger (added after sealing)",
        "audit/2026/03/run-2: run folder deleted (not by 'kubebook reports prune')",
        "audit/2026/03/run-planted: run folder not in the ledger (planted, or its prune did not finish)",
    ]


def test_reports_verify_cli_exits_nonzero_naming_the_file(archive: Archive,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reports", "verify", "--archive", str(archive.root)]) == 0
    assert "OK: 3 run(s)" in capsys.readouterr().out
    target = archive.root / "audit/2026/03/run-0/notebook.ipynb"
    _chmod_writable(target)
    target.write_text('{"tampered": true}')
    assert main(["reports", "verify", "--archive", str(archive.root)]) == 1
    captured = capsys.readouterr()
    assert "audit/2026/03/run-0/notebook.ipynb: modified" in captured.out
    assert "1 problem(s)" in captured.err


def test_prune_keep_last_records_the_deletion_and_verify_stays_green(archive: Archive) -> None:
    plan = archive.prune(keep_last=1)
    assert sorted(r.run_id for r in plan.remove) == ["run-0", "run-1"]
    assert [r.run_id for r in archive.list_runs()] == ["run-2"]
    assert not (archive.root / "audit/2026/03/run-0").exists()
    last = json.loads((archive.root / "ledger.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "prune" and {r["run_id"] for r in last["removed"]} == {"run-0", "run-1"}
    assert archive.verify() == []
    assert [r["run_id"] for r in json.loads((archive.root / "index.json").read_text())["runs"]] == ["run-2"]


def test_prune_never_deletes_the_last_successful_run(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "reports")
    seal(archive, "good-old", T0 - timedelta(days=40))
    seal(archive, "good", T0 - timedelta(days=1))
    for i in range(4):
        seal(archive, f"bad-{i}", T0 + timedelta(hours=i), status="failed")
    plan = archive.prune(keep_last=2)
    assert plan.keep == {"bad-3": ["last"], "bad-2": ["last"], "good": ["last successful run"]}
    assert sorted(r.run_id for r in archive.list_runs()) == ["bad-2", "bad-3", "good"]
    assert archive.verify() == []


def test_grandfather_father_son_keeps_newest_per_day_week_and_month(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "reports")
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # ISO week 10
    days = [0, 0, 1, 2, 8, 9, 35, 70]  # days before it: Wed, Wed, Tue, Mon, Feb 24, Feb 23, Jan 28, Dec 24
    for n, back in enumerate(days):
        seal(archive, f"r{n}", wednesday - timedelta(days=back, hours=n))
    plan = archive.prune(keep_daily=2, keep_weekly=2, keep_monthly=3, dry_run=True)
    kept = {run_id: sorted(reasons) for run_id, reasons in plan.keep.items()}
    assert kept == {"r0": ["daily", "last successful run", "monthly", "weekly"],
                    "r2": ["daily"],             # newest of the second-newest day
                    "r4": ["monthly", "weekly"],  # newest of week 9, and of February
                    "r6": ["monthly"]}           # newest of January; December is the 4th month
    assert sorted(r.run_id for r in plan.remove) == ["r1", "r3", "r5", "r7"]
    assert len(archive.list_runs()) == len(days), "a dry run deletes nothing"


def test_prune_without_a_policy_is_refused(archive: Archive) -> None:
    with pytest.raises(ParameterError, match="at least one of --keep-last"):
        archive.prune()
    assert len(archive.list_runs()) == 3
