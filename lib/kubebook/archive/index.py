"""``index.json`` and ``index.html``: the archive's table of contents.

Both are derived from the ledger (never from the run folders), so regenerating
them after every run costs one small file read, and they can always be rebuilt.
The HTML needs no server and no network: one static page linking to each report.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.fsutil import atomic_write_bytes

INDEX_JSON = "index.json"
INDEX_HTML = "index.html"
_STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "timeout": "#9a6700",
                   "kernel_died": "#8250df"}


def render_html(rows: Sequence[dict[str, Any]], generated: str) -> str:
    """A static page: one table row per run, newest first, linking to its report."""
    body = []
    for row in rows:
        colour = _STATUS_COLOURS.get(row["status"], "#57606a")
        duration = "" if row["duration_seconds"] is None else f"{row['duration_seconds']:.1f} s"
        body.append(
            "<tr>"
            f"<td><a href=\"{html.escape(row['report'], quote=True)}\">{html.escape(row['run_id'])}</a></td>"
            f"<td>{html.escape(row['runbook'])}</td>"
            f"<td style=\"color:{colour};font-weight:600\">{html.escape(row['status'])}</td>"
            f"<td>{html.escape(row['started'][:19].replace('T', ' '))}</td><td>{duration}</td>"
            f"<td>{html.escape(str(row['trigger']))}</td>"
            f"<td>{html.escape(score_text(row.get('score')))}</td>"
            f"<td>{html.escape(str(row.get('outcome') or ''))}</td></tr>")
    rows_html = "\n".join(body) or '<tr><td colspan="8">No runs archived yet.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kubebook reports</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{padding:.3rem .8rem;border-bottom:1px solid #d0d7de;text-align:left}}</style></head>
<body><h1>kubebook reports</h1><p>{len(rows)} run(s); generated {html.escape(generated)}.
Check integrity with <code>kubebook reports verify</code>.</p>
<table><thead><tr><th>Run</th><th>Runbook</th><th>Status</th><th>Started (UTC)</th><th>Duration</th>
<th>Trigger</th><th>Score</th><th>Outcome</th></tr></thead><tbody>
{rows_html}
</tbody></table></body></html>
"""


MAX_RESULTS_BYTES = 1 << 20  # a results.json larger than this is not read for the index (it is still verified)


def score_text(score: Any) -> str:
    return f"{score:g}" if isinstance(score, int | float) and not isinstance(score, bool) else ""


def run_headline(run_dir: Path) -> dict[str, Any]:
    """``score`` and ``outcome`` of one run from its results.json records (the index and the report browser).

    The outcome is what the runbook recorded as ``outcome`` (a mapping gives its ``state``),
    else the mutation guard's ``decision`` state, else its ``status``; a missing, oversized,
    symlinked or unreadable file gives neither (the run is still listed; ``reports verify``
    judges the file).
    """
    path = run_dir / "results.json"
    try:
        info = path.lstat()
        if not path.is_file() or path.is_symlink() or info.st_size > MAX_RESULTS_BYTES:
            return {}
        records = json.loads(path.read_bytes()).get("records") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(records, dict):
        return {}
    score = records.get("score")
    outcome = next((records[k] for k in ("outcome", "decision", "status") if records.get(k) is not None), None)
    if isinstance(outcome, dict):
        outcome = outcome.get("state")
    return {"score": score if score_text(score) else None,
            "outcome": str(outcome)[:120] if isinstance(outcome, str | int | float) else None}


def write(root: Path, runs: Sequence[Any]) -> Path:
    """Write both index files atomically; returns the path of ``index.html``."""
    rows = [{**run.to_dict(), **run_headline(run.run_dir)} for run in runs]
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_bytes(root / INDEX_JSON, json.dumps({"generated": generated, "runs": rows}, indent=1).encode(), 0o644)
    atomic_write_bytes(root / INDEX_HTML, render_html(rows, generated).encode(), 0o644)
    return root / INDEX_HTML
