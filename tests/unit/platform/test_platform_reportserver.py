"""The report server serves only what `reports verify` passes; verify refuses hard links; a bad asset is a 4xx."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from test_reportserver import REPORT, refused, seal, writable

from kubebook.archive import Archive, ledger
from kubebook.reportserver.page import report_page

RUN = "audit/2026/05/20260504T030201Z-abcdef"


def hand_made(root: Path, report: bytes, assets: dict[str, bytes] | None = None, chained: bool = False) -> Path:
    """A run folder and ledger written by hand, not by Archive.seal_run."""
    folder = root / RUN
    folder.mkdir(parents=True)
    (folder / "report.html").write_bytes(report)
    entry = {"type": "run", "run_id": RUN.rsplit("/", 1)[1], "path": RUN,
             "artifacts": {"report.html": hashlib.sha256(report).hexdigest()}}
    if assets:
        (root / "assets").mkdir()
        for name, data in assets.items():
            (root / "assets" / name).write_bytes(data)
        entry["assets"] = {name: hashlib.sha256(data).hexdigest() for name, data in assets.items()}
    if chained:
        ledger.append(root / ledger.LEDGER, entry)
    else:
        (root / ledger.LEDGER).write_text(json.dumps(entry) + "\n")
    return folder / "report.html"


def test_a_hand_made_folder_with_an_unchained_one_line_ledger_is_not_served(tmp_path: Path) -> None:
    report = hand_made(tmp_path / "archive", b"<html><body>forged</body></html>")
    assert Archive(tmp_path / "archive").verify()  # verify fails it ...
    answer = refused(str(report))  # ... so the server refuses it too
    assert answer.status == 403 and "ledger" in answer.message and "\n" not in answer.message


def test_a_sealed_report_hard_linked_to_a_file_outside_the_archive_fails_verify_and_is_not_served(
        tmp_path: Path) -> None:
    root = tmp_path / "archive"
    report = seal(root)
    outside = tmp_path / "outside.html"
    outside.write_bytes(report.read_bytes())
    writable(report.parent)
    report.unlink()
    os.link(outside, report)  # same bytes, so the hash still matches; the outside file can change it
    problems = Archive(root).verify()
    assert any("report.html" in p and "hard link" in p for p in problems), problems
    answer = refused(str(report))
    assert answer.status == 403 and "hard link" in answer.message


def test_a_hard_linked_asset_fails_verify_and_is_not_served(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    report = seal(root)
    asset = next((root / "assets").glob("*.js"))
    os.link(asset, tmp_path / "alias.js")
    assert any("assets/" in p and "hard link" in p for p in Archive(root).verify())
    assert "hard link" in refused(str(report)).message


def test_a_non_utf8_asset_is_a_4xx_with_one_line(tmp_path: Path) -> None:
    name = "sha256-" + hashlib.sha256(b"\xff\xfe\x00bad").hexdigest() + ".js"
    html = f'<html><body><script src="../../../../assets/{name}"></script></body></html>'.encode()
    report = hand_made(tmp_path / "archive", html, {name: b"\xff\xfe\x00bad"}, chained=True)
    answer = refused(str(report))
    assert 400 <= answer.status < 500 and "UTF-8" in answer.message and "\n" not in answer.message


def test_a_sealed_report_is_still_served(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    assert Archive(tmp_path / "archive").verify() == []
    assert report_page(str(report)) == REPORT.replace("<script>", '<script charset="utf-8">').encode()


def test_a_file_added_to_the_sealed_folder_or_a_modified_sibling_is_not_served(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    writable(report.parent)
    (report.parent / "planted.html").write_text("<p>added</p>")
    assert any("added after sealing" in p for p in Archive(tmp_path / "archive").verify())
    assert refused(str(report)).status == 403
    (report.parent / "planted.html").unlink()
    results = report.parent / "results.json"
    writable(results)
    results.write_text('{"status": "succeeded"}')
    assert "results.json does not match the ledger" in refused(str(report)).message


def test_an_unreadable_run_folder_is_a_one_line_403(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = seal(tmp_path / "archive")

    def denied(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("kubebook.reportserver.page.os.listdir", denied)
    answer = refused(str(report))
    assert answer.status == 403 and "Permission denied" in answer.message and "\n" not in answer.message
