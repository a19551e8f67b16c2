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


def _has_own_title(nb: Any) -> bool:
    """Whether the notebook opens with its own ``# heading`` (then the summary does not repeat the title)."""
    for cell in nb.cells[:3]:
        if cell.get("cell_type") == "markdown" and any(
                line.startswith("# ") for line in str(cell.get("source", "")).splitlines()):
            return True
    return False


def _parameter_value(value: Any) -> str:
    """A parameter as a reader wants it: text as written, an empty text said so, the rest as JSON."""
    if value == "":
        return '<i style="color:#57606a">(empty)</i>'
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return f"<code>{html.escape(text)}</code>"


def cluster_text(results: dict[str, Any]) -> str:
    """The cluster the run talked to: its kubeconfig context and API server, and the fingerprint when known."""
    cluster = results.get("cluster") if isinstance(results.get("cluster"), dict) else {}
    named = " ".join(f"`{cluster[k]}`" for k in ("name", "server") if cluster.get(k))
    fingerprint = results.get("cluster_fingerprint")
    if named and fingerprint:
        return f"cluster {named} (fingerprint `{fingerprint}`)"
    if named:
        return f"cluster {named} (not reachable for a fingerprint at the end of the run)"
    if fingerprint:
        return f"cluster fingerprint `{fingerprint}`"
    return "no cluster configured for this run"


def summary(nb: Any, results: dict[str, Any]) -> str:
    """Markdown that opens the HTML report: what ran, how it ended, where, with which (redacted) parameters.

    The title is a heading only when the notebook has none of its own (it showed twice); the
    parameters sit folded behind their count, left-aligned, with text shown as text.
    """
    from kubebook.views.report import collapsed

    title = (nb.metadata.get("kubebook") or {}).get("title") or results["runbook"]
    lines = [] if _has_own_title(nb) else [f"# {html.escape(str(title))}", ""]
    lines += [f"**{results['status']}** (exit {results['exit_code']}) · run `{results['run_id']}` · "
              f"started {results['started'][:19].replace('T', ' ')} UTC · {results['duration_seconds']} s · "
              f"{html.escape(results['ran_by'])} via {results['trigger']}",
              "", f"{cluster_text(results)} · git commit `{results['git_commit'] or 'unknown'}`"]
    if results.get("output_truncated"):
        lines += ["", "**Output was truncated** at the run's output cap; see the marker in the cell where it "
                      "happened."]
    parameters = results["parameters"] or {}
    if parameters:
        rows = "".join(f'<tr><td style="text-align:left;padding:2px 12px 2px 0"><code>{html.escape(str(k))}</code>'
                       f'</td><td style="text-align:left;padding:2px 0">{_parameter_value(v)}</td></tr>'
                       for k, v in parameters.items())
        table = f'<table style="margin:0;border-collapse:collapse">{rows}</table>'
        lines += ["", collapsed("Parameters", len(parameters), table).html, ""]
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
