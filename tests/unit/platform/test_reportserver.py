"""The report server's page and path guard: only a sealed report.html of an archive, as sealed, assets inlined.

Archives here are written by the real :class:`kubebook.archive.Archive` with a report
whose large script and style moved to ``assets/`` exactly as the runner moves them.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubebook.archive import Archive
from kubebook.archive.assets import extract
from kubebook.archive.query import runs_frame
from kubebook.reportserver import SERVER_ENV, link_prefix, report_url
from kubebook.reportserver.page import MAX_PATH, ReportRefused, report_page, split
from kubebook.views.reports import archived_base, report_href, report_links

T0 = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
SCRIPT = "window.drawn = 1;//" + "x" * 40_000
STYLE = "body{margin:0}/*" + "y" * 40_000 + "*/"
REPORT = f"<html><head><title>Audit</title><style>{STYLE}</style></head><body><script>{SCRIPT}</script></body></html>"


def seal(root: Path, run_id: str = "20260504T030201Z-abcdef", text: str = REPORT) -> Path:
    assets: dict[str, bytes] = {}
    html = extract(text, assets)
    assert "../../../../assets/sha256-" in html and len(assets) == 2
    folder = Archive(root).seal_run(run_id=run_id, runbook="audit", started=T0, ended=T0 + timedelta(seconds=1),
                                    status="succeeded", exit_code=0, trigger="cli", assets=assets,
                                    artifacts={"report.html": html.encode(), "results.json": b"{}"})
    return folder / "report.html"


def refused(path: str | bytes) -> ReportRefused:
    with pytest.raises(ReportRefused) as caught:
        report_page(path)
    return caught.value


def writable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_sealed_report_is_served_whole_with_its_assets_inline(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    page = report_page(str(report)).decode()
    assert page == REPORT.replace("<script>", '<script charset="utf-8">')
    assert report_page(os.fsencode(report)) == page.encode()


def test_a_report_outside_the_jupyter_root_or_anywhere_is_found_by_its_absolute_path(tmp_path: Path) -> None:
    report = seal(tmp_path / "deep" / "er" / "archive")
    assert split(str(report)) == (str(tmp_path / "deep" / "er" / "archive"), "audit/2026/05/20260504T030201Z-abcdef")


@pytest.mark.parametrize("text", [
    "archive/audit/2026/05/20260504T030201Z-abcdef/report.html",  # relative
    "/{root}/audit/2026/05/20260504T030201Z-abcdef/../20260504T030201Z-abcdef/report.html",
    "/{root}/audit/2026/05/./20260504T030201Z-abcdef/report.html",
    "/{root}/audit/2026//05/20260504T030201Z-abcdef/report.html",
    "/{root}/audit/2026/05/20260504T030201Z-abcdef/results.json",  # not a report
    "/{root}/audit/2026/05/20260504T030201Z-abcdef",
    "/{root}/ledger.jsonl",
    "/{root}/assets/2026/05/20260504T030201Z-abcdef/report.html",  # the shared assets folder is no runbook
    "/{root}/.quarantine/2026/05/20260504T030201Z-abcdef/report.html",
    "/{root}/audit/2026/05/20260504T030201Z-abcdef/report.html\0",
    "/{root}\\audit/2026/05/20260504T030201Z-abcdef/report.html",
    "/etc/passwd",
    "",
])
def test_paths_that_are_not_a_run_report_are_refused_as_text(tmp_path: Path, text: str) -> None:
    seal(tmp_path / "archive")
    assert refused(text.replace("/{root}", str(tmp_path / "archive"))).status == 404


def test_non_utf8_and_huge_paths_are_refused(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    assert refused(str(report).encode().replace(b"/audit/", b"/\xff\xfe/")).status == 404
    assert refused(str(report).replace("/audit/", "/\udcff/")).status == 404  # a lone surrogate (os.fsdecode)
    assert refused("/" + "a/" * MAX_PATH + "audit/2026/05/r/report.html").status == 404
    assert "UTF-8" in refused(b"/\xff/audit/2026/05/r/report.html").message


def test_a_symlinked_report_pointing_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    secret = tmp_path / "secret.html"
    secret.write_text("<p>not a report</p>")
    writable(report.parent)
    report.unlink()
    report.symlink_to(secret)
    answer = refused(str(report))
    assert answer.status == 403 and "symbolic link" in answer.message


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_a_folder_of_a_listed_run_moved_out_and_linked_back_is_never_followed(tmp_path: Path, depth: int) -> None:
    """The ledger lists the run and the bytes still match: only the symlink rule can refuse it."""
    root = tmp_path / "archive"
    report = seal(root)
    step = root.joinpath(*report.parent.relative_to(root).parts[:depth])
    writable(step.parent)
    step.rename(tmp_path / "elsewhere")
    step.symlink_to(tmp_path / "elsewhere")
    assert report.is_file()  # a browser or /files would follow it
    answer = refused(str(report))
    assert answer.status == 403 and "symbolic link" in answer.message, answer.message


def test_a_symlinked_archive_root_and_assets_folder_are_refused(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    (tmp_path / "alias").symlink_to(tmp_path / "archive")
    assert refused(str(tmp_path / "alias" / report.relative_to(tmp_path / "archive"))).status == 403
    assets = tmp_path / "archive" / "assets"
    writable(tmp_path / "archive")
    assets.rename(tmp_path / "moved")
    assets.symlink_to(tmp_path / "moved")
    assert "symbolic link" in refused(str(report)).message


def test_a_report_changed_after_sealing_or_unknown_to_the_ledger_is_refused(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    writable(report)
    report.write_text(report.read_text().replace("Audit", "Forged"))
    answer = refused(str(report))
    assert answer.status == 403 and "does not match the ledger" in answer.message
    planted = tmp_path / "archive" / "audit" / "2026" / "05" / "20260504T030201Z-planted"
    writable(planted.parent)
    planted.mkdir()
    (planted / "report.html").write_text(REPORT)
    assert refused(str(planted / "report.html")).status == 404
    assert refused(str(tmp_path / "none" / "audit" / "2026" / "05" / "r" / "report.html")).status == 404


def test_an_asset_changed_after_sealing_is_refused(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    asset = next((tmp_path / "archive" / "assets").glob("*.js"))
    writable(asset)
    asset.write_text("window.evil = 1;")
    assert "does not match the ledger" in refused(str(report)).message


def test_a_pruned_run_is_no_longer_served(tmp_path: Path) -> None:
    report = seal(tmp_path / "archive")
    rel = report.parent.relative_to(tmp_path / "archive").as_posix()
    ledger = tmp_path / "archive" / "ledger.jsonl"
    writable(ledger)
    with ledger.open("a") as handle:
        handle.write(json.dumps({"type": "prune", "removed": [{"path": rel}]}) + "\n")
    assert refused(str(report)).status == 404


def test_the_kernel_links_to_its_own_server_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report = tmp_path / "a b" / "report.html"
    monkeypatch.setenv(SERVER_ENV, json.dumps({"pid": os.getppid(), "url": "/base/kubebook/report"}))
    assert link_prefix() == "/base/kubebook/report"
    assert report_href(report, tmp_path, link_prefix()) == report_url("/base/kubebook/report", report)
    assert report_url("/kubebook/report", report) == f"/kubebook/report?path={tmp_path}/a%20b/report.html"
    for value in (json.dumps({"pid": os.getppid() + 1, "url": "/kubebook/report"}),  # not my parent
                  json.dumps({"pid": os.getppid(), "url": "//elsewhere/kubebook/report"}),
                  json.dumps({"pid": os.getppid(), "url": "http://h/kubebook/report"}), "not json", "[]"):
        monkeypatch.setenv(SERVER_ENV, value)
        assert link_prefix() is None, value
    monkeypatch.delenv(SERVER_ENV)
    assert link_prefix() is None
    assert report_href(report, tmp_path, link_prefix()) == "a b/report.html"  # headless: file-relative, as before


def test_a_headless_run_links_relative_to_where_its_own_report_is_sealed(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    """``kubebook run`` exports the archive: the archived report's links then work from its own folder."""
    root = tmp_path / "archive"
    report = seal(root)
    monkeypatch.delenv(SERVER_ENV, raising=False)
    monkeypatch.setenv("KUBEBOOK_HEADLESS", "1")
    monkeypatch.setenv("KUBEBOOK_ARCHIVE", str(root))
    html = report_links(runs_frame(root)).data
    href = "../../../../audit/2026/05/20260504T030201Z-abcdef/report.html"
    assert f'href="{href}"' in html
    later = root / "report-browser" / "2026" / "06" / "20260601T000000Z-123456"
    assert (later / href).resolve() == report.resolve()
    monkeypatch.delenv("KUBEBOOK_HEADLESS")
    assert archived_base() is None  # interactive: never the archive's depth
