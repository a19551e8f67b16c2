"""What the report-browser notebook shows: archived runs, their numeric records, links to reports.

The questions to the archive (which runs, what they recorded, the numbers) are
:mod:`kubebook.archive.query`'s; these functions draw its :class:`~kubebook.archive.query.Browser`
and frames and read no file. Every function accepts an empty archive - a new installation has
one - and the figure helpers then return a plain message saying so instead of an empty chart.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kubebook.views import Html, Message, headline_view, table

if TYPE_CHECKING:  # what is drawn here; the archive is read by kubebook.archive.query
    from kubebook.archive.query import Browser

STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "timeout": "#9a6700", "kernel_died": "#8250df",
                  "leaked": "#000000"}
MAX_TREND_SERIES = 24
RUN_DEPTH = 4  # <runbook>/<YYYY>/<MM>/<run-id>: kubebook.archive.verify.RUN_DEPTH (a test keeps them equal)


def describe(browser: Browser) -> Message:
    """One line about what was found: the count and time span, or the empty-archive message."""
    return Message(browser.description)


def browser_headline(browser: Browser) -> Html:
    """The report browser's headline: runs found, how many did not succeed, the archive it read (absolute)."""
    return headline_view(browser.headline)


def status_summary(summary: Browser | pd.DataFrame | None) -> Html | Message:
    """Runs per runbook and status, with the latest start per runbook."""
    frame = getattr(summary, "summary", summary)
    if frame is None or len(frame) == 0:
        return Message("No runs to summarise.")
    return table(frame, empty="No runs to summarise.")


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
        score, outcome = str(run.score or ""), str(run.outcome or "")
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
