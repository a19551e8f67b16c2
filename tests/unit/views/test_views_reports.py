"""The report browser's logic on real archives (sealed through the Archive API) and on empty ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubebook.archive import Archive, query
from kubebook.views import Message
from kubebook.views import reports as reportview

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def seal(archive: Archive, runbook: str, hour: int, status: str, records: dict[str, Any]) -> None:
    started = T0 + timedelta(hours=hour)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{runbook[:3]}{hour:03d}"
    results = {"run_id": run_id, "runbook": runbook, "status": status, "records": records}
    archive.seal_run(run_id=run_id, runbook=runbook, started=started, ended=started + timedelta(seconds=4),
                     status=status, exit_code=0 if status == "succeeded" else 1, trigger="schedule:x",
                     artifacts={"notebook.ipynb": b"{}", "report.html": b"<html></html>",
                                "results.json": json.dumps(results).encode()})


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    store = Archive(tmp_path / "reports")
    seal(store, "audit", 0, "succeeded", {"score": 80, "passed": True, "version": "v1"})
    seal(store, "audit", 1, "failed", {"score": 75.5})
    seal(store, "audit", 2, "succeeded", {"score": 90, "findings": 3})
    seal(store, "inventory", 1, "succeeded", {"nodes": 3, "table": [{"a": 1}]})
    return store.root


def test_archive_defaults_to_the_environment_then_reports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBEBOOK_ARCHIVE", raising=False)
    repo = Path(__file__).resolve().parents[3]
    assert query.resolve_archive("") == repo / "reports", "the repository's archive, wherever the kernel runs"
    monkeypatch.chdir(repo / "notebooks")
    assert query.resolve_archive("") == repo / "reports", "not notebooks/reports"
    assert query.resolve_archive("elsewhere/runs") == repo / "elsewhere" / "runs"
    monkeypatch.setenv("KUBEBOOK_ARCHIVE", str(tmp_path))
    assert query.resolve_archive("") == tmp_path
    assert query.resolve_archive("/elsewhere") == Path("/elsewhere")


def test_numbers_inside_a_recorded_mapping_are_trended_too() -> None:
    found = query.numbers({"score": 91.5, "counts": {"high": 2, "low": 0, "note": "x"}, "ok": True,
                                "keys": ["a"]})
    assert found == {"score": 91.5, "counts.high": 2.0, "counts.low": 0.0}


def test_a_missing_archive_gives_empty_frames_and_says_so_clearly(tmp_path: Path) -> None:
    runs = query.runs_frame(tmp_path / "nothing")
    assert runs.empty and list(runs.columns) == query.RUN_COLUMNS
    metrics = query.metrics_frame(runs)
    assert metrics.empty and list(metrics.columns) == query.METRIC_COLUMNS
    assert "No runs archived yet" in reportview.describe(query.browse_reports(tmp_path / "nothing"))
    for shown in (reportview.status_summary(query.status_summary(runs)), reportview.runs_over_time(runs),
                  reportview.metric_trends(metrics), reportview.report_links(runs)):
        assert isinstance(shown, Message) and shown._repr_markdown_().startswith("No ")


def test_runs_are_listed_newest_first_with_their_report(archive: Path) -> None:
    runs = query.runs_frame(archive)
    assert list(runs["runbook"]) == ["audit", "inventory", "audit", "audit"]
    assert list(runs["status"]) == ["succeeded", "succeeded", "failed", "succeeded"]
    assert all(Path(p).is_file() for p in runs["report"])
    assert "4 run(s)** of 2 runbook(s)" in reportview.describe(query.browse_reports(archive))
    assert "1 did not succeed" in query.describe(archive, runs)


def test_runs_can_be_filtered_by_runbook_and_start(archive: Path) -> None:
    assert set(query.runs_frame(archive, runbook="inventory")["runbook"]) == {"inventory"}
    assert len(query.runs_frame(archive, since="2026-01-10T09:30")) == 1


def test_only_numbers_become_metrics(archive: Path) -> None:
    metrics = query.metrics_frame(query.runs_frame(archive))
    series = metrics.groupby(["runbook", "metric"])["value"].apply(list).to_dict()
    assert series == {("audit", "findings"): [3.0], ("audit", "score"): [90.0, 75.5, 80.0],
                      ("inventory", "nodes"): [3.0]}


def test_a_run_with_unreadable_results_is_skipped_not_fatal(archive: Path) -> None:
    runs = query.runs_frame(archive)
    broken = runs.iloc[0]["run_dir"]
    broken.chmod(0o700)
    (broken / "results.json").chmod(0o600)
    (broken / "results.json").write_text("{not json")
    assert "score" in set(query.metrics_frame(runs)["metric"])
    assert len(query.metrics_frame(runs)) == 3, "the two numbers of the broken run are left out"


def test_status_summary_counts_runs_per_runbook_and_status(archive: Path) -> None:
    table = query.status_summary(query.runs_frame(archive)).set_index("runbook")
    assert table.loc["audit", "succeeded"] == 2 and table.loc["audit", "failed"] == 1
    assert table.loc["inventory", "total"] == 1
    assert table.loc["audit", "last run (UTC)"] == "2026-01-10 10:00"


def test_runs_over_time_has_one_trace_per_status(archive: Path) -> None:
    figure = reportview.runs_over_time(query.runs_frame(archive))
    assert sorted(trace.name for trace in figure.data) == ["failed", "succeeded"]
    assert sum(len(trace.x) for trace in figure.data) == 4


def test_metric_trends_draw_one_chart_per_runbook_and_metric(archive: Path) -> None:
    figure = reportview.metric_trends(query.metrics_frame(query.runs_frame(archive)))
    titles = sorted(a.text for a in figure.layout.annotations)
    assert titles == ["audit · findings", "audit · score", "inventory · nodes"]
    capped = reportview.metric_trends(query.metrics_frame(query.runs_frame(archive)), max_series=2)
    assert any("showing the 2 series" in a.text for a in capped.layout.annotations)


def test_report_links_point_at_each_report_relative_to_the_notebook(archive: Path, tmp_path: Path) -> None:
    runs = query.runs_frame(archive)
    html = reportview.report_links(runs, base=tmp_path).data
    first = runs.iloc[0]
    assert f'href="reports/audit/2026/01/{first.run_id}/report.html"' in html
    assert html.count("<tr>") == 5
    assert "<th>Score</th><th>Outcome</th>" in html
    assert "<td>90</td>" in html and "<td>75.5</td>" in html, "each run's recorded score"
    assert "Showing the latest 2 of 4 runs" in reportview.report_links(runs, limit=2, base=tmp_path).data


def test_report_links_show_each_runs_outcome(tmp_path: Path) -> None:
    store = Archive(tmp_path / "reports")
    seal(store, "remediate", 3, "succeeded", {"outcome": {"state": "dry run", "counts": {"change": 2}}})
    seal(store, "info", 4, "succeeded", {"status": "ok"})
    html = reportview.report_links(query.runs_frame(store.root), base=tmp_path).data
    assert "<td></td><td>dry run</td>" in html and "<td></td><td>ok</td>" in html


def test_the_view_knows_the_archive_depth_the_archive_seals_runs_at() -> None:
    from kubebook.archive.verify import RUN_DEPTH

    assert reportview.RUN_DEPTH == RUN_DEPTH


def test_the_browser_headline_is_decided_by_the_query_and_an_empty_archive_is_not_green(archive: Path,
                                                                                      tmp_path: Path) -> None:
    found = query.browse_reports(archive)
    assert found.headline.tone == "bad" and found.headline.value == "4", "one failed run of four"
    assert found.records() == {"runs": 4, "runs_not_succeeded": 1, "metric_series": 3}
    assert "4" in reportview.browser_headline(found).plain
    empty = query.browse_reports(tmp_path / "nothing")
    assert empty.headline.tone == "warn" and empty.records()["runs"] == 0
