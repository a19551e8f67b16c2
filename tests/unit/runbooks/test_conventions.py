"""Every shipped notebook follows the conventions, and a broken one is reported by file and problem."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kubebook.conventions import check_notebook, find_notebooks

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = find_notebooks(ROOT)


def test_the_repository_ships_notebooks() -> None:
    assert any(p.parent.name == "runbooks" for p in SHIPPED), "no runbooks found: the walk is broken"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_notebook_follows_conventions(path: Path) -> None:
    problems = check_notebook(path, decisions=True)
    assert not problems, "\n".join(map(str, problems))


def good_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('namespace = "default"  # where to look')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(namespace)")]
    nb.metadata["kubebook"] = {
        "title": "t", "description": "d", "category": "c", "risk": "readonly",
        "parameters": {"type": "object", "properties": {"namespace": {"type": "string"}}},
        "rbac": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    }
    return nb


def write(tmp_path: Path, nb: nbformat.NotebookNode) -> Path:
    path = tmp_path / "runbooks" / "sample.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def problems_of(tmp_path: Path, nb: nbformat.NotebookNode) -> list[str]:
    path = write(tmp_path, nb)
    found = [str(p) for p in check_notebook(path)]
    assert all(str(path) in p for p in found), "every problem must name the file"
    return found


def test_good_notebook_has_no_problems(tmp_path: Path) -> None:
    assert problems_of(tmp_path, good_notebook()) == []


def test_missing_parameters_cell_is_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.cells[0].metadata["tags"] = []
    assert any("exactly one cell tagged 'parameters', found 0" in p for p in problems_of(tmp_path, nb))


def test_two_parameters_cells_are_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.cells[1].metadata["tags"] = ["parameters"]
    assert any("found 2" in p for p in problems_of(tmp_path, nb))


def test_missing_metadata_block_is_named(tmp_path: Path) -> None:
    nb = good_notebook()
    del nb.metadata["kubebook"]
    assert any("no 'kubebook' block" in p for p in problems_of(tmp_path, nb))


@pytest.mark.parametrize("key", ["title", "description", "category", "risk", "parameters", "rbac"])
def test_missing_metadata_key_is_named(tmp_path: Path, key: str) -> None:
    nb = good_notebook()
    del nb.metadata["kubebook"][key]
    assert any(f"lacks '{key}'" in p for p in problems_of(tmp_path, nb))


def test_unknown_risk_is_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.metadata["kubebook"]["risk"] = "yolo"
    assert any("'risk' is 'yolo'" in p for p in problems_of(tmp_path, nb))


def test_invalid_json_schema_is_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.metadata["kubebook"]["parameters"] = {"type": "object", "properties": {"namespace": {"type": 3}}}
    assert any("not a valid JSON Schema" in p for p in problems_of(tmp_path, nb))


def test_parameter_missing_from_schema_is_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.cells[0].source += "\nreplicas = 3  # how many"
    assert any("'replicas' is assigned" in p for p in problems_of(tmp_path, nb))


def test_bad_rbac_rules_are_named(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.metadata["kubebook"]["rbac"] = [{"resources": ["pods"]}]
    assert any("'rbac' is not a list of rules" in p for p in problems_of(tmp_path, nb))


def test_stored_outputs_are_named_unless_marked_for_nbval(tmp_path: Path) -> None:
    nb = good_notebook()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="default\n")]
    assert any("cell 1 stores outputs" in p for p in problems_of(tmp_path, nb))
    nb.cells[1].source = "# NBVAL_CHECK_OUTPUT\nprint(namespace)"
    assert problems_of(tmp_path, nb) == []


@pytest.mark.parametrize(("source", "what"), [
    ("def helper():\n    return 1", "a 'def'"),
    ("class Thing:\n    pass", "a 'class'"),
    ("for n in range(3):\n    print(n)", "a 'for' loop"),
    ("while False:\n    pass", "a 'while' loop"),
    ("if namespace:\n    print(1)\nelse:\n    print(2)", "an 'if' with 'elif'/'else'"),
    ("try:\n    x = 1\nexcept Exception:\n    pass", "a 'try'"),
    ("f = lambda: 1", "a 'lambda'"),
])
def test_control_flow_in_a_cell_is_named_with_the_cell(tmp_path: Path, source: str, what: str) -> None:
    nb = good_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    found = problems_of(tmp_path, nb)
    assert len(found) == 1 and f"cell 2: holds {what} at line" in found[0], found


def test_a_single_guard_and_conditional_expressions_are_a_runbook_step(tmp_path: Path) -> None:
    """A lab (rendered from its catalog) keeps the old rule; runbooks refuse conditional expressions
    (tests/unit/runbooks/test_conventions_decisions.py)."""
    nb = good_notebook()
    nb.cells.append(nbformat.v4.new_code_cell('if namespace:\n    print(namespace)\nx = 1 if namespace else 2\n'
                                              "names = [n.strip() for n in namespace.split(',')]"))
    nb.cells[0].source += "\nfor _ in range(1):\n    pass"  # the parameters cell is not checked for logic
    path = tmp_path / "labs" / "sample.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    assert check_notebook(path) == []
