"""Runbook cells hold no decisions: no conditional expression, no boolean logic on a parameter, at most one
engine call, and kubebook imported only through its public API; each problem names the notebook and the cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kubebook.conventions import check_notebook

ROOT = Path(__file__).resolve().parents[3]


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('confirm = False  # go ahead\ncluster_name = ""  # which\n'
                                       'kubeconfig = ""  # file')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("from kubebook import connect, record, guard, etcd_drill_plan\n"
                                                  "from kubebook.views import dr as view, table")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kubebook"] = {
        "title": "t", "description": "d", "category": "c", "risk": "readonly",
        "parameters": {"type": "object", "properties": {n: {"type": "string"} for n in
                                                        ("confirm", "cluster_name", "kubeconfig")}},
        "rbac": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    }
    return nb


def problems(tmp_path: Path, nb: nbformat.NotebookNode, folder: str = "runbooks") -> list[str]:
    path = tmp_path / folder / "sample.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    found = [str(p) for p in check_notebook(path, decisions=True)]
    assert all(str(path) in p for p in found), "every problem must name the notebook"
    return found


def test_a_cell_without_decisions_passes(tmp_path: Path) -> None:
    nb = notebook("target = connect(kubeconfig)\nrecord('server', target.server)",
                  "plan = etcd_drill_plan(cluster_name, confirm=confirm)\n"
                  "decision = guard(plan.changes, plan.run, dry_run=True, confirm=plan.confirm)",
                  "table([{'a': 1}])\nview.headline_slot('x')",
                  "if decision.result:\n    record('n', len(decision.result))")
    assert problems(tmp_path, nb) == []


@pytest.mark.parametrize(("source", "what"), [
    ("x = 1 if confirm else 2", "holds a conditional expression ('x if c else y') at line 1"),
    ("record('x', 'yes' if True else 'no')", "holds a conditional expression"),
    ("ok = confirm or own", "holds boolean logic ('or') on the parameter(s) confirm at line 1"),
    ("target = connect(kubeconfig or None)", "holds boolean logic ('or') on the parameter(s) kubeconfig"),
    ("own = cluster_name == '' and True", "holds boolean logic ('and') on the parameter(s) cluster_name"),
    ("own = not cluster_name", "holds boolean logic ('not') on the parameter(s) cluster_name"),
    ("if confirm:\n    x = 1\nelse:\n    x = 2", "holds an 'if' with 'elif'/'else'"),
    ("a = connect(kubeconfig)\nb = etcd_drill_plan(cluster_name)", "makes 2 engine calls (connect, etcd_drill_plan)"),
    ("a = etcd_drill_plan(connect(kubeconfig))", "makes 2 engine calls"),
    ("from kubebook.dr import outcome", "imports outcome from kubebook.dr at line 1 (a deep import)"),
    ("import kubebook.cluster", "imports kubebook.cluster at line 1"),
    ("from kubebook import cluster", "imports 'cluster' from kubebook at line 1, which is not in kubebook.__all__"),
])
def test_each_decision_is_refused_naming_the_cell(tmp_path: Path, source: str, what: str) -> None:
    found = problems(tmp_path, notebook("x = 0", source))
    assert len(found) == 1 and "cell 3: " in found[0] and "[cell id " in found[0] and what in found[0], found


def test_deep_imported_engine_calls_count_and_methods_of_results_do_not(tmp_path: Path) -> None:
    nb = notebook("from kubebook.dr import outcome, throwaway",
                  "verdict = outcome.etcd_drill(throwaway.full_drill_action(cluster_name)())",
                  "target = connect(kubeconfig)", "version = target.version()\nnodes = target.list_path('/x')")
    found = problems(tmp_path, nb)
    assert any("cell 3: " in p and "makes 2 engine calls (outcome.etcd_drill, throwaway.full_drill_action)"
               in p for p in found), found
    assert not any("cell 5" in p for p in found), found


def test_views_and_notebook_helpers_are_not_engine_calls(tmp_path: Path) -> None:
    nb = notebook("view.verdicts_table(view.outcome_headline(x))\nrecord('a', 1)\nrecord('b', 2)")
    assert problems(tmp_path, nb) == []


def test_the_parameters_cell_may_decide(tmp_path: Path) -> None:
    nb = notebook()
    nb.cells[0].source += "\nown = 1 if confirm else 2  # derived"
    nb.metadata["kubebook"]["parameters"]["properties"]["own"] = {"type": "integer"}
    assert problems(tmp_path, nb) == []


def test_labs_keep_the_old_rules(tmp_path: Path) -> None:
    assert problems(tmp_path, notebook("x = 1 if confirm else 2\nimport kubebook.cluster"), folder="labs") == []


def test_the_public_names_the_check_allows_exist() -> None:
    """Every name kubebook.__all__ promises resolves (the check allows importing exactly these)."""
    import kubebook

    missing = [name for name in kubebook.__all__ if not hasattr(kubebook, name)]
    assert not missing, missing


def test_schedule_validation_asks_only_whether_a_notebook_can_run(tmp_path: Path) -> None:
    """The schedules call check_notebook(path): a decision in a cell fails the tests, not a scheduled backup."""
    path = tmp_path / "runbooks" / "sample.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook("x = 1 if confirm else 2"), path)
    assert check_notebook(path) == [] and check_notebook(path, decisions=True)
