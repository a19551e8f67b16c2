"""What the report-browser notebook shows: archived runs, their numeric records, links to reports.

The archive is found as every runbook finds it (:func:`resolve_archive`): the
parameter, else ``$KUBEBOOK_ARCHIVE`` (``kubebook run`` and the scheduler export
it), else ``reports`` - and a relative path is taken from the repository root,
not from the notebook's folder, and shown absolute.

The archive's ledger says which runs exist (pruned and quarantined runs are not
listed); each run's ``results.json`` holds what its notebook recorded. Every
function accepts an empty archive - a new installation has one - and the
figure helpers then return a plain message saying so instead of an empty chart.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from kubebook.archive.index import run_headline, score_text
from kubebook.views import Message

RUN_COLUMNS = ["run_id", "runbook", "status", "started", "ended", "duration_seconds", "trigger", "exit_code",
               "run_dir", "report"]
METRIC_COLUMNS = ["run_id", "runbook", "status", "started", "metric", "value"]
STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "timeout": "#9a6700", "kernel_died": "#8250df",
                  "leaked": "#000000"}
MAX_TREND_SERIES = 24


def resolve_archive(archive: str | os.PathLike[str] | None = "") -> Path:
    """The archive folder, absolute: ``archive``, else ``$KUBEBOOK_ARCHIVE``, else ``<repository>/reports``
    (the one rule every entry point uses: :func:`kubebook.archive.location.default_root`)."""
    from kubebook.archive.location import default_root

    return default_root(archive or None)


def empty_message(root: Path) -> Message:
    return Message(f"**No runs archived yet** in `{root}`. Run a notebook headless "
                   "(`kubebook run runbooks/cluster-info.ipynb`) or the whole suite (`make run`), then run "
                   "this notebook again.")


def describe(root: Path, runs: pd.DataFrame) -> Message:
    """One line about what was found: the count and time span, or the empty-archive message."""
    if runs.empty:
        return empty_message(root)
    first, last = runs["started"].min(), runs["started"].max()
    failed = int((runs["status"] != "succeeded").sum())
    return Message(f"**{len(runs)} run(s)** of {runs['runbook'].nunique()} runbook(s) in `{root}`, "
                   f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC; {failed} did not succeed. "
                   f"Archive index: `{Path(root) / 'index.html'}`.")


def runs_frame(root: Path, runbook: str = "", since: str = "") -> pd.DataFrame:
    """One row per archived run, newest first; empty (with the columns) when there are none."""
    from kubebook.archive import Archive

    root = Path(root)
    if not root.is_dir():
        return pd.DataFrame(columns=RUN_COLUMNS)
    runs = Archive(root).list_runs(runbook=runbook or None, since=since or None)
    rows = [{"run_id": r.run_id, "runbook": r.runbook, "status": r.status, "started": r.started,
             "ended": r.ended, "duration_seconds": r.duration, "trigger": r.trigger, "exit_code": r.exit_code,
             "run_dir": r.run_dir, "report": r.run_dir / "report.html"} for r in runs]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if not frame.empty:
        frame["started"] = pd.to_datetime(frame["started"], utc=True)
    return frame


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numbers(records: dict[str, Any]) -> dict[str, float]:
    """The trendable numbers of one run's records: numbers, and numbers one level inside a mapping
    (``counts = {"high": 2}`` gives ``counts.high``). Booleans, text, lists and tables have no trend."""
    found: dict[str, float] = {}
    for name, value in records.items():
        if _is_number(value):
            found[name] = float(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if _is_number(inner):
                    found[f"{name}.{key}"] = float(inner)
    return found


def metrics_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Every number the runs recorded (see :func:`numbers`), one row per run and metric.

    A run whose results cannot be read is skipped (``kubebook reports verify`` names it).
    """
    rows = []
    for run in runs.itertuples(index=False):
        try:
            results = json.loads((Path(run.run_dir) / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for name, value in numbers(results.get("records") or {}).items():
            rows.append({"run_id": run.run_id, "runbook": run.runbook, "status": run.status,
                         "started": run.started, "metric": name, "value": value})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def status_summary(runs: pd.DataFrame) -> pd.DataFrame | Message:
    """Runs per runbook and status, with the latest start per runbook."""
    if runs.empty:
        return Message("No runs to summarise.")
    table = runs.pivot_table(index="runbook", columns="status", values="run_id", aggfunc="count", fill_value=0)
    table["total"] = table.sum(axis=1)
    table["last run (UTC)"] = runs.groupby("runbook")["started"].max().dt.strftime("%Y-%m-%d %H:%M")
    return table.reset_index()


def runs_over_time(runs: pd.DataFrame) -> Any:
    """A plotly timeline: one point per run, by runbook (rows) and status (colour)."""
    if runs.empty:
        return Message("No runs to plot.")
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.express as px

    figure = px.scatter(runs.sort_values("started"), x="started", y="runbook", color="status",
                        color_discrete_map=STATUS_COLOURS, hover_data=["run_id", "duration_seconds", "trigger"],
                        title="Runs over time by runbook and status")
    figure.update_traces(marker={"size": 11, "line": {"width": 1, "color": "white"}})
    figure.update_layout(xaxis_title="started (UTC)", yaxis_title=None, legend_title="status")
    return figure


def metric_trends(metrics: pd.DataFrame, max_series: int = MAX_TREND_SERIES) -> Any:
    """plotly trends of recorded numbers, one small chart per runbook and metric, each with its own y axis."""
    if metrics.empty:
        return Message("No numeric records to plot: runbooks record numbers with "
                       "`kubebook.notebook.record(name, value)`.")
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.express as px

    data = metrics.assign(series=metrics["runbook"] + " · " + metrics["metric"])
    counts = data["series"].value_counts()
    keep = sorted(counts.index[:max_series])
    data = data[data["series"].isin(keep)].sort_values("started")
    rows = (len(keep) + 2) // 3
    figure = px.line(data, x="started", y="value", facet_col="series", facet_col_wrap=3, markers=True,
                     hover_data=["run_id", "status"], category_orders={"series": keep},
                     facet_row_spacing=min(0.08, 0.9 / max(rows, 1)), height=max(300, 260 * rows),
                     title="Recorded metrics over time")
    figure.update_yaxes(matches=None, showticklabels=True, title=None)
    figure.update_xaxes(title=None)
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    if len(counts) > max_series:
        figure.add_annotation(text=f"showing the {max_series} series with the most points of {len(counts)}",
                              xref="paper", yref="paper", x=0, y=-0.08, showarrow=False)
    return figure


def report_href(report: Path, base: Path | None = None, prefix: str | None = None) -> str:
    """Where a run's link points: the Jupyter server's report page when this kernel runs under one with
    kubebook's extension (``prefix``, see :mod:`kubebook.reportserver`), else the path relative to ``base``."""
    from kubebook.reportserver import report_url

    target = Path(report)
    if prefix:
        return report_url(prefix, target)
    try:
        return os.path.relpath(target.resolve(), Path(base or os.getcwd()).resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return target.resolve().as_uri()


def archived_base() -> Path | None:
    """Headless under the runner, where this run's own report will be sealed: a folder four levels below
    ``$KUBEBOOK_ARCHIVE`` (``<runbook>/<YYYY>/<MM>/<run-id>``; any such folder gives the same relative
    links), so the links work from the archived report on disk. None elsewhere."""
    from kubebook.archive.verify import RUN_DEPTH
    from kubebook.notebook import headless

    archive = os.environ.get("KUBEBOOK_ARCHIVE", "")
    if not headless(ask_ipython=False) or not os.path.isabs(archive):
        return None
    return Path(archive).joinpath(*["run"] * RUN_DEPTH)


def report_links(runs: pd.DataFrame, limit: int = 50, base: Path | None = None) -> Any:
    """An HTML table of the latest runs linking to their HTML reports.

    In JupyterLab a link opens the whole report in a new browser tab, charts drawn, wherever the
    archive lives (served by kubebook's Jupyter server extension); headless it is a path relative
    to ``base``, else to where the runner archives this run's report (:func:`archived_base`),
    else to the kernel's folder.
    """
    if runs.empty:
        return Message("No reports to link.")
    from IPython.display import HTML

    from kubebook.reportserver import link_prefix

    prefix = link_prefix()
    base = base or (None if prefix else archived_base())
    rows = []
    for run in runs.head(limit).itertuples(index=False):
        target = Path(run.report)
        href = report_href(target, base, prefix)
        colour = STATUS_COLOURS.get(run.status, "#57606a")
        duration = "" if pd.isna(run.duration_seconds) else f"{run.duration_seconds:.1f} s"
        found = run_headline(Path(run.run_dir))
        score, outcome = score_text(found.get("score")), str(found.get("outcome") or "")
        rows.append(f'<tr><td><a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener">'
                    f"{html.escape(run.run_id)}</a></td><td>{html.escape(run.runbook)}</td>"
                    f'<td style="color:{colour};font-weight:600">{html.escape(run.status)}</td>'
                    f"<td>{html.escape(score)}</td><td>{html.escape(outcome)}</td>"
                    f"<td>{run.started:%Y-%m-%d %H:%M:%S}</td><td>{duration}</td>"
                    f"<td><code>{html.escape(str(target))}</code></td></tr>")
    more = f"<p>Showing the latest {limit} of {len(runs)} runs.</p>" if len(runs) > limit else ""
    return HTML("<table><thead><tr><th>Run</th><th>Runbook</th><th>Status</th><th>Score</th><th>Outcome</th>"
                "<th>Started (UTC)</th><th>Duration</th><th>Report</th></tr></thead><tbody>" + "".join(rows)
                + "</tbody></table>" + more)


def browser_headline(root: Path, runs: pd.DataFrame) -> Any:
    """The report browser's headline: runs found, how many did not succeed, the archive it read (absolute)."""
    from kubebook.views import headline

    if runs.empty:
        return headline("archived runs", 0, tone="warn", note=f"no runs archived yet in {root}")
    failed = int((runs["status"] != "succeeded").sum())
    latest = runs["started"].max()
    return headline("archived runs", len(runs), tone="good" if not failed else "bad",
                    change=f"{failed} did not succeed; latest {latest:%Y-%m-%d %H:%M} UTC",
                    counts=runs["status"].value_counts().to_dict(), note=f"archive {root}")
