"""What notebooks show: one shared look for every runbook's report (headline, tables, cards, messages).

Engines return data (NamedTuples, dicts, frames); the modules here draw it with
pandas, plotly and ipywidgets. Every object returned has an HTML form (JupyterLab,
the archived HTML report) and a plain-text form (papermill logs, nbval), and uses
inline styles only: JupyterLab strips ``<style>`` elements from untrusted outputs,
inline styles survive both there and in the nbconvert export.

Tables show full text, wrapped (pandas would cut at 50 characters), without an
index column and with empty cells instead of ``None``/``NaN``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SEVERITY_COLOURS = {"critical": "#7f0000", "high": "#d7301f", "medium": "#e6750a", "low": "#b59a00",
                    "info": "#6e7781"}
TONES = {"good": "#1a7f37", "warn": "#9a6700", "bad": "#cf222e", "neutral": "#24292f"}
FONT = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif"
CELL = "padding:4px 8px;border-bottom:1px solid #d0d7de;vertical-align:top;text-align:left"

__all__ = ["Html", "Message", "cards", "configure_plotly", "ensure_plotly", "headline", "headline_view", "table"]


class Message(str):
    """Text a notebook displays as Markdown (what a view answers when there is nothing to draw)."""

    def _repr_markdown_(self) -> str:
        return str(self)


class Html:
    """An HTML block with a plain-text twin, so JupyterLab, nbconvert, papermill and nbval all show it."""

    def __init__(self, html_text: str, plain: str) -> None:
        self.html, self.plain = html_text, plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.plain

    def __str__(self) -> str:
        return self.plain


def _text(value: Any) -> str:
    """A cell's text: empty for None/NaN, lists joined by commas, everything else as str()."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    try:
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, str | bytes) and pd.isna(value) is True):
            return ""
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def table(rows: Any, columns: Sequence[str] | None = None, *, empty: str = "nothing to show",
          limit: int = 500, code: Iterable[str] = ()) -> Html | Message:
    """Rows (a DataFrame, NamedTuples or dicts) as a full-text table; ``code`` columns in monospace.

    At most ``limit`` rows are drawn (the rest are counted below the table). A Message
    (what a view answers when there is nothing to tabulate) is shown as it is.
    """
    if isinstance(rows, str):
        return Message(rows)
    records = _records(rows, columns)
    if columns is None:
        columns = list(records[0]) if records else []
    if not records:
        return Message(f"_{empty}_")
    mono = set(code)
    head = "".join(f'<th style="{CELL};border-bottom:2px solid #57606a">{html.escape(str(c))}</th>'
                   for c in columns)
    body = []
    for record in records[:limit]:
        cells = []
        for column in columns:
            text = html.escape(_text(record.get(column)))
            style = f"{CELL};white-space:pre-wrap;overflow-wrap:break-word"
            if column in mono:
                text = f"<code>{text}</code>"
            cells.append(f'<td style="{style}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = f"<p>{len(records) - limit} more row(s) not shown.</p>" if len(records) > limit else ""
    page = (f'<table style="{FONT};border-collapse:collapse;font-size:0.9em;max-width:100%">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}")
    plain = "\n".join([" | ".join(columns)] + [" | ".join(_text(r.get(c)) for c in columns)
                                                for r in records[:limit]])
    return Html(page, plain)


def _records(rows: Any, columns: Sequence[str] | None) -> list[dict[str, Any]]:
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        frame = rows if columns is None else rows[list(columns)]
        return list(frame.to_dict(orient="records"))
    out = []
    for row in rows or []:
        if hasattr(row, "_asdict"):
            out.append(row._asdict())
        elif isinstance(row, Mapping):
            out.append(dict(row))
        else:
            raise TypeError(f"a table row must be a NamedTuple or a mapping, got {type(row).__name__}")
    return out


def headline(title: str, value: Any, *, unit: str = "", change: str = "", tone: str = "neutral",
             counts: Mapping[str, int] | None = None, note: str = "") -> Html:
    """The first thing a report shows: the outcome in large type, its change, counts (by severity, say)."""
    colour = TONES.get(tone, TONES["neutral"])
    shown = _text(value)
    pills = "".join(
        f'<span style="display:inline-block;margin:0 6px 4px 0;padding:2px 10px;border-radius:12px;'
        f'background:{SEVERITY_COLOURS.get(k, "#57606a") if n else "#eaeef2"};color:{"white" if n else "#57606a"}">'
        f"{html.escape(str(k))} <b>{n}</b></span>" for k, n in (counts or {}).items())
    page = (f'<div style="{FONT};border-left:6px solid {colour};padding:8px 16px;margin:4px 0 12px 0">'
            f'<div style="font-size:0.95em;color:#57606a;text-transform:uppercase;letter-spacing:0.04em">'
            f"{html.escape(title)}</div>"
            f'<div style="font-size:2.6em;font-weight:700;color:{colour};line-height:1.2">{html.escape(shown)}'
            f'<span style="font-size:0.45em;font-weight:400"> {html.escape(unit)}</span>'
            f'<span style="font-size:0.4em;font-weight:400;color:#57606a;margin-left:12px">{html.escape(change)}'
            f"</span></div><div>{pills}</div>"
            f'<div style="color:#57606a">{html.escape(note)}</div></div>')
    parts = [f"{title}: {shown}{' ' + unit if unit else ''}", change,
             ", ".join(f"{k} {n}" for k, n in (counts or {}).items()), note]
    return Html(page, " | ".join(p for p in parts if p))


def headline_view(head: Any) -> Html:
    """An engine's :class:`kubebook.results.Headline` (title, value, tone ... decided by the engine) drawn."""
    return headline(head.title, head.value, unit=head.unit, change=head.change, tone=head.tone,
                    counts=head.counts, note=head.note)


def cards(items: Sequence[Mapping[str, Any]], *, empty: str = "nothing to show") -> Html | Message:
    """One card per item: ``title``, ``severity``, ``subtitle``, ``body`` (wrapped text), ``snippet`` (code)."""
    if not items:
        return Message(f"_{empty}_")
    page, plain = [], []
    for item in items:
        severity = str(item.get("severity") or "")
        colour = SEVERITY_COLOURS.get(severity, "#57606a")
        snippet = _text(item.get("snippet"))
        code = (f'<pre style="background:#f6f8fa;padding:8px;white-space:pre-wrap;overflow-wrap:break-word;'
                f'margin:6px 0 0 0">{html.escape(snippet)}</pre>') if snippet else ""
        page.append(f'<div style="{FONT};border:1px solid #d0d7de;border-left:6px solid {colour};'
                    f'border-radius:4px;padding:8px 12px;margin:0 0 10px 0">'
                    f'<div><span style="color:{colour};font-weight:700;text-transform:uppercase;'
                    f'font-size:0.8em">{html.escape(severity)}</span> '
                    f"<b>{html.escape(_text(item.get('title')))}</b></div>"
                    f'<div style="color:#57606a;font-size:0.9em">{html.escape(_text(item.get("subtitle")))}</div>'
                    f'<div style="white-space:pre-wrap;margin-top:4px">{html.escape(_text(item.get("body")))}</div>'
                    f"{code}</div>")
        plain.append(f"[{severity}] {_text(item.get('title'))} - {_text(item.get('subtitle'))}\n"
                     f"  {_text(item.get('body'))}" + (f"\n  {snippet}" if snippet else ""))
    return Html("".join(page), "\n".join(plain))


def configure_plotly() -> None:
    """Plotly output that never stores plotly.js in a saved notebook, yet draws offline in archived reports.

    Interactively (JupyterLab) figures are the plotly JSON MIME type only: JupyterLab's
    own plotly renderer draws them and the saved ``.ipynb`` holds a few kB of JSON.
    Headless runs (``KUBEBOOK_HEADLESS=1``: the runner, the tests) add the ``notebook``
    renderer, which embeds plotly.js once per notebook so the HTML report shows its
    charts with no CDN and no kernel; that executed notebook lives in the archive only.
    """
    import plotly.io as pio

    from kubebook.notebook import headless

    global _CONFIGURED
    if OFFLINE not in pio.renderers:
        pio.renderers[OFFLINE] = _offline_renderer()
    pio.renderers.default = f"plotly_mimetype+{OFFLINE}" if headless(ask_ipython=False) else "plotly_mimetype"
    _CONFIGURED = True


_CONFIGURED = False


def ensure_plotly() -> None:
    """Configure plotly once, on the first draw of a figure (never at import: importing kubebook has no side
    effects and does not pay plotly's import). Every view that builds a plotly figure calls this first."""
    if not _CONFIGURED:
        configure_plotly()


OFFLINE = "kubebook_offline"
_MATHJAX_CDN = re.compile(r"""<script[^>]*\bsrc=["']https?://[^"']*mathjax[^"']*["'][^>]*>\s*</script>""", re.I)


def _offline_renderer() -> Any:
    """plotly's ``notebook`` renderer (plotly.js embedded once) without the MathJax ``<script src>`` to a CDN that
    plotly adds to every figure: reports are evidence and must not call third parties (titles here have no TeX)."""
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        def to_mimebundle(self, fig_dict: Any) -> dict[str, Any]:
            bundle = dict(super().to_mimebundle(fig_dict))
            if "text/html" in bundle:
                bundle["text/html"] = _MATHJAX_CDN.sub("", bundle["text/html"])
            return bundle

    return OfflineNotebookRenderer()
