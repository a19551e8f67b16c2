"""Issue 21's archived report: one title, folded left-aligned parameters, the cluster named, the look's CSS fixes."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from kubebook.runner import run_notebook
from kubebook.views import Html, Message
from kubebook.views.report import collapsed

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: lab-admin
contexts:
- name: lab-admin
  context: {cluster: lab, user: admin}
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: admin
  user: {token: not-a-real-token-0000}
"""
CELL = """
from kubebook.views import table
from kubebook.changes import diff_objects
from kubebook.views.changes import changes_view
display(table([{"kind": "ClusterRoleBinding", "namespace": "kube-system", "name": "system:controller:x"}]))
changes_view([diff_objects(None, {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "c", "namespace": "n"}, "data": {"a": "b"}})])
"""


def notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('kubeconfig = ""  # kubeconfig\ncontext = ""  # context\nlimit = 3  # rows')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Screens report\n\nWhat it shows."), params,
                nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "Screens report", "description": "d", "category": "test",
                               "risk": "readonly", "rbac": [], "parameters": {"type": "object", "properties": {
                                   "kubeconfig": {"type": "string", "default": ""},
                                   "context": {"type": "string", "default": ""},
                                   "limit": {"type": "integer", "default": 3}}}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "screens.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    folder = tmp_path_factory.mktemp("screens")
    (folder / "kubeconfig").write_text(KUBECONFIG)
    outcome = run_notebook(notebook(folder), {}, archive=folder / "archive", kubeconfig=str(folder / "kubeconfig"))
    assert outcome.status == "succeeded", outcome.error
    assert outcome.run_dir is not None
    import json

    return (outcome.run_dir / "report.html").read_text(), json.loads((outcome.run_dir / "results.json").read_text())


def test_the_title_appears_once_as_a_heading(report: tuple[str, dict]) -> None:
    page, _ = report
    headings = re.findall(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert [h for h in headings if "Screens report" in h] and len([h for h in headings if "Screens report" in h]) == 1


def test_parameters_are_folded_behind_their_count_with_empty_text_said_so(report: tuple[str, dict]) -> None:
    page, _ = report
    assert "<summary" in page and "Parameters (3)" in page
    assert "(empty)" in page
    assert "&quot;&quot;" not in page and '<td>""</td>' not in page


def test_the_header_names_the_cluster_context_and_server(report: tuple[str, dict]) -> None:
    page, results = report
    assert results["cluster"] == {"name": "lab-admin", "server": "https://127.0.0.1:9"}
    assert "cluster n/a" not in page and "lab-admin" in page and "https://127.0.0.1:9" in page


def test_the_report_css_keeps_diffs_monospace_words_whole_and_tables_left(report: tuple[str, dict]) -> None:
    page, _ = report
    assert re.search(r"\.jp-OutputArea-output pre[^{]*\{[^}]*font-family:[^}]*monospace", page)
    assert re.search(r"\.jp-RenderedHTMLCommon td[^{]*\{[^}]*word-break: normal !important", page)
    assert "word-break:break-word" not in page


def test_collapsed_folds_long_content_behind_its_count_and_opens_short_content() -> None:
    folded = collapsed("Role bindings", 214, Html("<table></table>", "a | b"))
    assert isinstance(folded, Html) and "<details " in folded.html and "Role bindings (214)" in folded.html
    assert " open" not in folded.html.split(">", 1)[0]
    assert folded.plain == "Role bindings (214)\na | b"
    assert "<details open" in collapsed("Findings", 2, "<p>x</p>", open_when_at_most=5).html
    nothing = Message("_nothing to show_")
    assert collapsed("Findings", 0, nothing) is nothing
