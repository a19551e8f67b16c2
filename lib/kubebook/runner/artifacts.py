"""A run's artifacts as bytes: the redacted notebook, the HTML report, results.json, shared assets.

Everything here works on a notebook that has already been redacted; the runner
scans the bytes returned before any of them is written. Two details make the
artifacts trustworthy as files:

* the injected-parameters cell and papermill's parameter metadata are rendered
  again from the *public* parameters (secrets as ``***REDACTED***``), the way
  papermill renders them, so no escaped form of a secret can survive there;
* NaN and infinities become the strings ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"``: JSON has no such numbers and a results.json with them is not
  JSON any strict reader accepts.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from kubebook.archive import assets as shared
from kubebook.archive.store import HTML, NOTEBOOK, RESULTS
from kubebook.runner.evidence import render_html

INJECTED_TAG = "injected-parameters"


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its name (JSON-safe); containers copied only if needed."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return type(obj)((k, finite(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(finite(v) for v in obj)
    return obj


def rerender_parameters(nb: Any, public: dict[str, Any]) -> None:
    """Rewrite the injected-parameters cell and papermill's metadata from ``public`` (in place)."""
    from papermill.translators import translate_parameters
    from papermill.utils import nb_kernel_name, nb_language

    papermill = nb.metadata.get("papermill")
    if isinstance(papermill, dict) and "parameters" in papermill:
        papermill["parameters"] = dict(public)
    for cell in nb.cells:
        if INJECTED_TAG in (cell.get("metadata", {}).get("tags") or []):
            cell.source = translate_parameters(nb_kernel_name(nb), nb_language(nb), public, "Parameters")


def summary(nb: Any, results: dict[str, Any]) -> str:
    """Markdown that opens the HTML report: what ran, how it ended, with which (redacted) parameters."""
    def cell(value: Any) -> str:
        return html.escape(json.dumps(value, default=str)).replace("|", "&#124;").replace("*", "&#42;")

    title = (nb.metadata.get("kubebook") or {}).get("title") or results["runbook"]
    lines = [f"# {html.escape(str(title))}", "",
             f"**{results['status']}** (exit {results['exit_code']}) · run `{results['run_id']}` · "
             f"started {results['started'][:19].replace('T', ' ')} UTC · {results['duration_seconds']} s · "
             f"{html.escape(results['ran_by'])} via {results['trigger']}",
             "", f"git commit `{results['git_commit'] or 'n/a'}` · "
             f"cluster `{results['cluster_fingerprint'] or 'n/a'}`"]
    if results.get("output_truncated"):
        lines += ["", "**Output was truncated** at the run's output cap; see the marker in the cell where it "
                      "happened."]
    if results["parameters"]:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {html.escape(k)} | {cell(v)} |" for k, v in results["parameters"].items()]
    return "\n".join(lines)


def serialize(nb: Any, exporter: Any, results: dict[str, Any]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The three artifacts' bytes and the shared assets they link to; the HTML alone opens with a summary."""
    import nbformat

    stored: dict[str, bytes] = {}
    shared.extract_from_notebook(nb, stored)
    notebook = nbformat.writes(nb).encode("utf-8")
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(summary(nb, results)))
    try:
        report = shared.extract(render_html(exporter, nb).decode("utf-8"), stored).encode("utf-8")
    finally:
        del nb.cells[0]
    body = json.dumps(finite(results), indent=1, default=str, allow_nan=False).encode("utf-8")
    return {NOTEBOOK: notebook, HTML: report, RESULTS: body}, stored


def inline(artifacts: dict[str, bytes], stored: dict[str, bytes]) -> dict[str, bytes]:
    """Quarantine copies: the assets kept beside the artifacts (the quarantine is not the archive)."""
    return {**artifacts, **{f"asset-{name}": data for name, data in stored.items()}}
