"""Helpers a notebook cell calls: record results, show tables, guard mutations.

``record(name, value)`` writes the value into the cell's output under a kubebook
MIME type, so the executed notebook itself carries the evidence; the runner
collects these into ``results.json`` after the run (the scrapbook approach,
without scrapbook's separate storage).
"""

from __future__ import annotations

import json
import math
from typing import Any

RECORD_MIME = "application/vnd.kubebook.record+json"


def _jsonable(value: Any) -> Any:
    """Convert pandas/numpy values into plain JSON so records survive round trips."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        try:
            return _jsonable(value.to_dict(orient="records"))
        except TypeError:
            return _jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    json.dumps(value)  # raises TypeError for anything else: better now than at archive time
    return value


def record(name: str, value: Any) -> Any:
    """Record a named result of this run (status, score, counts ...) and return it."""
    from IPython.display import display

    if not name or not isinstance(name, str):
        raise ValueError("record() needs a non-empty string name, e.g. record('score', 87)")
    payload = {"name": name, "value": _jsonable(value)}
    display({RECORD_MIME: payload, "text/plain": f"recorded {name} = {payload['value']!r}"}, raw=True)
    return value


def records_from_notebook(nb: Any) -> dict[str, Any]:
    """Every value recorded in an executed notebook; a later record of a name wins."""
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if isinstance(output, dict) else {}
            payload = data.get(RECORD_MIME)
            if isinstance(payload, dict) and "name" in payload:
                found[payload["name"]] = payload.get("value")
    return found


def configure_display() -> None:
    """Plotly figures carry both plotly's JSON (for JupyterLab) and self-contained HTML.

    Headless runs turn the executed notebook into an HTML report with nbconvert, which
    cannot draw plotly's JSON MIME type; the ``notebook`` renderer adds an HTML output
    with plotly.js embedded once per notebook, so archived reports show their charts
    with no CDN (these machines are offline) and no live kernel.
    """
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype+notebook"


configure_display()

