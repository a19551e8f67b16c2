"""The archived HTML look: the runbook's title, no prompts, no record() echo, nothing fetched from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from kubebook.notebook import RECORD_MIME
from kubebook.views.report import to_html

ROOT = Path(__file__).resolve().parents[3]
# What a browser would fetch: a src/href attribute or a CSS url() pointing at another host.
FETCH = re.compile(r"""(?:\bsrc\s*=\s*["']?|@import\s+["']?|url\(\s*["']?)(https?://[^"')\s>]+)""", re.IGNORECASE)


def executed() -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "runbooks" / "harden-audit.ipynb", as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[1].outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: {"name": "score", "value": 91.5},
                                                                    "text/plain": "", "text/html": ""})]
    code[2].execution_count = 3
    code[2].outputs = [nbformat.v4.new_output("execute_result", execution_count=3,
                                              data={"text/html": "<p>FULL-REMEDIATION-TEXT</p>", "text/plain": "x"})]
    return nb


def test_report_has_the_runbooks_title_and_no_prompts() -> None:
    page = to_html(executed())
    assert re.findall(r"<title>(.*?)</title>", page) == ["Harden: audit"]
    assert "FULL-REMEDIATION-TEXT" in page
    assert "In&nbsp;[" not in page and "Out[" not in page and "[3]:" not in page
    assert "91.5" not in page, "a record shows nothing in the report"


def test_report_fetches_nothing_from_a_third_party() -> None:
    page = to_html(executed())
    assert FETCH.findall(page) == []
    # the stock template does fetch (require.js, MathJax, widgets): the check is not vacuous
    from nbconvert import HTMLExporter

    stock, _ = HTMLExporter().from_notebook_node(executed())
    assert FETCH.findall(stock)
