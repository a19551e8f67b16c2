"""The report browser's questions to the archive: which runs exist, what each recorded, what the numbers did.

The archive is found as every runbook finds it (:func:`resolve_archive`): the parameter, else
``$KUBEBOOK_ARCHIVE`` (``kubebook run`` and the scheduler export it), else ``reports`` - a relative
path taken from the repository root and shown absolute. The ledger says which runs exist (pruned and
quarantined runs are not listed); each run's ``results.json`` holds what its notebook recorded.
Every function accepts an empty archive - a new installation has one. :func:`browse_reports` answers the
notebook's whole question at once; :mod:`kubebook.views.reports` only draws a :class:`Browser`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubebook.results import BAD, GOOD, WARN, Headline

if TYPE_CHECKING:
    import pandas as pd

RUN_COLUMNS = ["run_id", "runbook", "status", "started", "ended", "duration_seconds", "trigger", "exit_code",
               "run_dir", "report", "score", "outcome"]
METRIC_COLUMNS = ["run_id", "runbook", "status", "started", "metric", "value"]


def resolve_archive(archive: str | os.PathLike[str] | None = "") -> Path:
    """The archive folder, absolute: ``archive``, else ``$KUBEBOOK_ARCHIVE``, else ``<repository>/reports``
    (the one rule every entry point uses: :func:`kubebook.archive.location.default_root`)."""
    from kubebook.archive.location import default_root

    return default_root(archive or None)


def runs_frame(root: Path, runbook: str = "", since: str = "") -> pd.DataFrame:
    """One row per archived run, newest first, with its recorded score and outcome; empty (with the columns)
    when there are none."""
    import pandas as pd

    from kubebook.archive import Archive
    from kubebook.archive.index import run_headline, score_text

    root = Path(root)
    if not root.is_dir():
        return pd.DataFrame(columns=RUN_COLUMNS)
    rows = []
    for r in Archive(root).list_runs(runbook=runbook or None, since=since or None):
        found = run_headline(Path(r.run_dir))
        rows.append({"run_id": r.run_id, "runbook": r.runbook, "status": r.status, "started": r.started,
                     "ended": r.ended, "duration_seconds": r.duration, "trigger": r.trigger, "exit_code": r.exit_code,
                     "run_dir": r.run_dir, "report": r.run_dir / "report.html",
                     "score": score_text(found.get("score")), "outcome": str(found.get("outcome") or "")})
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
    import pandas as pd

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


def status_summary(runs: pd.DataFrame) -> pd.DataFrame | None:
    """Runs per runbook and status, with the latest start per runbook (None when there are no runs)."""
    if runs.empty:
        return None
    table = runs.pivot_table(index="runbook", columns="status", values="run_id", aggfunc="count", fill_value=0)
    table["total"] = table.sum(axis=1)
    table["last run (UTC)"] = runs.groupby("runbook")["started"].max().dt.strftime("%Y-%m-%d %H:%M")
    return table.reset_index()


def empty_text(root: Path) -> str:
    return (f"**No runs archived yet** in `{root}`. Run a notebook headless "
            "(`kubebook run runbooks/cluster-info.ipynb`) or the whole suite (`make run`), then run "
            "this notebook again.")


def describe(root: Path, runs: pd.DataFrame) -> str:
    """One line (Markdown) about what was found: the count and time span, or the empty-archive text."""
    if runs.empty:
        return empty_text(root)
    first, last = runs["started"].min(), runs["started"].max()
    failed = int((runs["status"] != "succeeded").sum())
    return (f"**{len(runs)} run(s)** of {runs['runbook'].nunique()} runbook(s) in `{root}`, "
            f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC; {failed} did not succeed. "
            f"Archive index: `{Path(root) / 'index.html'}`.")


def headline(root: Path, runs: pd.DataFrame) -> Headline:
    """Runs found, how many did not succeed, the archive read (absolute); an empty archive is not green."""
    if runs.empty:
        return Headline("archived runs", "0", tone=WARN, note=f"no runs archived yet in {root}")
    failed = int((runs["status"] != "succeeded").sum())
    latest = runs["started"].max()
    return Headline("archived runs", str(len(runs)), tone=GOOD if not failed else BAD,
                    change=f"{failed} did not succeed; latest {latest:%Y-%m-%d %H:%M} UTC",
                    counts={str(k): int(v) for k, v in runs["status"].value_counts().items()}, note=f"archive {root}")


@dataclass
class Browser:
    """The report browser's answer: the archive read, its runs, their numbers, the summary and headline."""

    root: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame | None
    headline: Headline
    description: str

    def records(self) -> dict[str, Any]:
        return {"runs": len(self.runs), "runs_not_succeeded": int((self.runs["status"] != "succeeded").sum()),
                "metric_series": int(self.metrics.groupby(["runbook", "metric"]).ngroups) if len(self.metrics)
                else 0}


def browse_reports(archive: str | os.PathLike[str] | None = "", *, runbook: str = "", since: str = "") -> Browser:
    """Everything the report browser shows of ``archive`` (see :func:`resolve_archive`), read once."""
    root = resolve_archive(archive)
    runs = runs_frame(root, runbook=runbook, since=since)
    return Browser(root, runs, metrics_frame(runs), status_summary(runs), headline(root, runs), describe(root, runs))
