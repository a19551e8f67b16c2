"""The archived HTML report: how an executed notebook looks when opened later, offline, by someone else.

:func:`html_exporter` is nbconvert's JupyterLab look through kubebook's own template
(``templates/kubebook``): no input or output prompts (``In [3]:`` means nothing in a
report), no code unless asked, the runbook's title as the page ``<title>``, the empty
outputs of ``record()`` left out, and no ``<script src>`` to a CDN - require.js,
MathJax, mermaid and the widget manager are all dropped, so an evidence file never
calls a third party (plotly.js is embedded by headless runs; see
:func:`kubebook.views.configure_plotly`).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL | re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def _without_css_comments(page: str) -> str:
    """The page with its stylesheets' comments removed (they name prompts and third-party sites: noise)."""
    return _STYLE.sub(lambda m: m.group(1) + _CSS_COMMENT.sub("", m.group(2)) + m.group(3), page)


def title_of(nb: Any) -> str:
    """The page title: the runbook's ``kubebook`` title, else its first Markdown heading, else "kubebook report"."""
    meta = (nb.get("metadata") or {}).get("kubebook") or {}
    if isinstance(meta.get("title"), str) and meta["title"].strip():
        return meta["title"].strip()
    for cell in nb.get("cells") or []:
        if cell.get("cell_type") == "markdown":
            for line in str(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "kubebook report"


def html_exporter(show_code: bool = False) -> Any:
    """An nbconvert HTML exporter for archived reports (code hidden unless ``show_code``)."""
    from nbconvert import HTMLExporter

    class ReportExporter(HTMLExporter):  # type: ignore[misc]
        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            nb = copy.deepcopy(nb)
            nb.metadata["title"] = title_of(nb)
            body, resources = super().from_notebook_node(nb, resources, **kw)
            return _without_css_comments(body), resources

    return ReportExporter(template_name="kubebook", extra_template_basedirs=[str(TEMPLATES)],
                          exclude_input=not show_code, exclude_input_prompt=True, exclude_output_prompt=True,
                          embed_images=True)


def to_html(nb: Any, show_code: bool = False) -> str:
    """The report HTML of an executed notebook (one call; the runner keeps a warmed exporter instead)."""
    body, _ = html_exporter(show_code).from_notebook_node(nb)
    return str(body)


def collapsed(title: str, count: int | None, content: Any, *, open_when_at_most: int = 0) -> Any:
    """``content`` (an :class:`~kubebook.views.Html`, or HTML text) folded behind "title (count)".

    Long tables and diffs stay one line until asked for: a ``<details>`` element folds and
    unfolds in JupyterLab and in the archived HTML alike (no widget, no script). It opens by
    itself when ``count`` is at most ``open_when_at_most``. The plain-text form (papermill
    logs, nbval) keeps the count line first, then the whole text. A Message (nothing to
    show) is returned as it is.
    """
    import html

    from kubebook.views import FONT, Html, Message

    if isinstance(content, Message):
        return content
    if isinstance(content, Html):
        body, plain = content.html, content.plain
    else:
        body, plain = str(content), ""
    label = title if count is None else f"{title} ({count})"
    opened = " open" if count is not None and count <= open_when_at_most else ""
    page = (f'<details{opened} style="{FONT};margin:4px 0 10px 0"><summary style="cursor:pointer">'
            f"<b>{html.escape(label)}</b></summary>{body}</details>")
    return Html(page, f"{label}\n{plain}" if plain else label)
