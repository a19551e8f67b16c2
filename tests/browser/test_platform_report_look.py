"""Issue 21 in a real browser: an archived report opened from file:// keeps words whole and diffs monospace.

A real headless run archives a report with a narrow-column table and a YAML diff; Debian's Chromium
(Playwright, a phone-wide window) opens ``report.html`` from disk and measures what a reader sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from kubebook.runner import run_notebook

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian chromium is not installed "
                                "('make test' installs it with scripts/ensure-debian-packages.sh)")
CELL = """
from kubebook.views import table
from kubebook.changes import diff_objects
from kubebook.views.changes import changes_view
display(table([{"kind": "ClusterRoleBinding", "namespace": "Namespace", "name": "defaultnamespace",
                "message": "grants cluster-admin to a ServiceAccount; remove the binding or bind a narrower "
                           "Role in the namespace that needs it (kubectl delete clusterrolebinding x)"}]))
changes_view([diff_objects(None, {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "c", "namespace": "n"}, "data": {"a": "b"}})])
"""
# Lines a one-word cell's text occupies: the text nodes' boxes, counted by distinct tops (a few px apart
# for one line when a <code> box sits beside plain text).
SINGLE_WORD_CELLS = """() => Array.from(document.querySelectorAll('td'))
  .filter(td => td.textContent.trim() && !/[\\s-]/.test(td.textContent.trim()))
  .map(td => { const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT); const tops = [];
               for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                 const r = document.createRange(); r.selectNodeContents(n);
                 for (const x of r.getClientRects()) if (x.width > 0) tops.push(x.top); }
               tops.sort((a, b) => a - b);
               const lines = tops.filter((t, i) => i === 0 || t - tops[i - 1] > 6).length;
               return [td.textContent.trim(), lines]; })"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("look")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('namespace = ""  # where')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Look"), params, nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "Look", "description": "d", "category": "test", "risk": "readonly",
                               "rbac": [], "parameters": {"type": "object", "properties": {
                                   "namespace": {"type": "string", "default": ""}}}}
    nbformat.write(nb, folder / "look.ipynb")
    outcome = run_notebook(folder / "look.ipynb", {}, archive=folder / "archive")
    assert outcome.status == "succeeded" and outcome.run_dir is not None, outcome.error
    return outcome.run_dir / "report.html"


def test_table_words_stay_whole_and_diffs_are_monospace_in_the_archived_report(browser: Any, report: Path) -> None:
    page = browser.new_page(viewport={"width": 420, "height": 900})
    try:
        page.goto(report.as_uri())
        cells = page.evaluate(SINGLE_WORD_CELLS)
        words = {word for word, _ in cells}
        assert {"ClusterRoleBinding", "Namespace", "defaultnamespace"} <= words, cells
        assert [c for c in cells if c[1] != 1] == [], "a one-word cell was broken over lines"
        font = page.evaluate("() => getComputedStyle(document.querySelector('details pre')).fontFamily")
        assert "mono" in font.lower(), font
        left = page.evaluate("() => [document.querySelector('details table').getBoundingClientRect().left,"
                             " document.querySelector('main').getBoundingClientRect().left]")
        assert left[0] - left[1] < 80, f"the parameters table is not at the left: {left}"
    finally:
        page.close()
