"""The kubebook notebook conventions, checked as data so a test can enforce them.

Every notebook under runbooks/, labs/ and notebooks/ must:

- have exactly one code cell tagged ``parameters`` (papermill injects after it);
- carry a ``kubebook`` metadata block with ``title``, ``description``, ``category``,
  ``risk`` (``readonly`` or ``mutating``), ``parameters`` (a JSON Schema object whose
  properties match the names assigned in the parameters cell) and ``rbac`` (the API
  permissions it needs: a list of ``{apiGroups, resources, verbs}`` rules);
- store no outputs, except in cells explicitly marked for nbval to check
  (a ``# NBVAL_CHECK_OUTPUT`` comment or the ``nbval-check-output`` tag);
- keep logic out of cells: outside the parameters cell no ``def``, ``class``,
  ``lambda``, ``for``/``while`` loop, ``try`` or ``if`` with an ``elif``/``else``
  branch (a single guarding ``if`` is fine). Logic that can be wrong belongs in
  ``lib/`` where pytest tests it.

Runbooks and notebooks (``runbooks/``, ``notebooks/``; labs are rendered from their
catalog and keep the rules above) also keep *decisions* out of cells (``check_notebook(path,
decisions=True)``, what the test suite runs over every shipped notebook), because a
decision made in a cell is one the CLI and the schedules cannot share. Outside the
parameters cell they hold:

- no conditional expression (``x if c else y``);
- no boolean logic on a parameter: no ``and``/``or`` with an operand that reads a
  parameter name (``confirm or own``, ``kubeconfig or None``) and no ``not`` on one;
  the engine takes the parameter as it is ("" for "not set") and decides;
- at most one *engine call* per cell. An engine call is a call (nested calls count
  one each) whose callee, followed through its attributes, starts at a name the
  notebook imported from ``kubebook``, unless that name comes from
  ``kubebook.views`` (drawing) or ``kubebook.notebook`` (``record``, the mutation
  guard): ``capacity.recommend(x, capacity.Prices.parse(p))`` is two. Methods of the
  objects an engine call returned (``target.version()``) are not engine calls;
- imports of kubebook only from its public API: ``from kubebook import <a name in
  kubebook.__all__>`` and ``from kubebook.views import ...``; a deep import
  (``from kubebook.dr import outcome``, ``import kubebook.cluster``) is refused.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import nbformat

NOTEBOOK_DIRS = ("runbooks", "labs", "notebooks")
RISKS = ("readonly", "mutating")
REQUIRED_KEYS = ("title", "description", "category", "risk", "parameters", "rbac")
# What a `risk: readonly` notebook may ask for: reading named resources, never a wildcard or a write verb.
READ_VERBS = ("get", "list", "watch")

RBAC_RULE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["apiGroups", "resources", "verbs"],
        "properties": {
            "apiGroups": {"type": "array", "items": {"type": "string"}},
            "resources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "verbs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
    },
}


@dataclass(frozen=True)
class Problem:
    """One convention a notebook breaks, phrased so the fix is obvious."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def find_notebooks(root: Path) -> list[Path]:
    """All notebooks kubebook ships, skipping Jupyter checkpoints."""
    found: list[Path] = []
    for folder in NOTEBOOK_DIRS:
        for path in sorted((root / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                found.append(path)
    return found


def parameter_names(source: str) -> list[str]:
    """Names assigned at top level of a parameters cell, in order."""
    tree = ast.parse(source)
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return names


def is_checked_cell(cell: Any) -> bool:
    """True when nbval is told to compare this cell's stored outputs."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "nbval-check-output" in tags or "# NBVAL_CHECK_OUTPUT" in cell.get("source", "")


def check_notebook(path: Path, *, decisions: bool = False) -> list[Problem]:
    """Every convention ``path`` breaks; an empty list means it conforms.

    ``decisions=True`` adds the decision rules of runbooks and notebooks (see the module docstring):
    the test suite checks them over every shipped notebook, while schedule validation and the runner,
    which ask whether a notebook can run at all, keep to the rest so a style slip never stops a backup.
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        return [Problem(path, f"is not a readable notebook: {error}")]
    problems: list[Problem] = []
    param_cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(param_cells) != 1:
        problems.append(Problem(path, f"needs exactly one cell tagged 'parameters', found {len(param_cells)}"))
    elif param_cells[0].cell_type != "code":
        problems.append(Problem(path, "the cell tagged 'parameters' must be a code cell"))
    meta = nb.metadata.get("kubebook")
    if not isinstance(meta, dict):
        problems.append(Problem(path, "notebook metadata has no 'kubebook' block"))
        return problems
    for key in REQUIRED_KEYS:
        if key not in meta:
            problems.append(Problem(path, f"kubebook metadata lacks '{key}'"))
    for key in ("title", "description", "category"):
        if key in meta and (not isinstance(meta[key], str) or not meta[key].strip()):
            problems.append(Problem(path, f"kubebook metadata '{key}' must be a non-empty string"))
    if "risk" in meta and meta["risk"] not in RISKS:
        problems.append(Problem(path, f"kubebook metadata 'risk' is {meta['risk']!r}; use one of {RISKS}"))
    problems.extend(_check_schema(path, meta, param_cells))
    if "rbac" in meta:
        try:
            jsonschema.validate(meta["rbac"], RBAC_RULE_SCHEMA)
        except jsonschema.ValidationError as error:
            problems.append(Problem(path, f"kubebook metadata 'rbac' is not a list of rules: {error.message}"))
        else:
            if meta.get("risk") == "readonly":
                problems.extend(Problem(path, text) for text in readonly_rbac_problems(meta["rbac"]))
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("outputs") and not is_checked_cell(cell):
            problems.append(Problem(path, f"cell {index} stores outputs but is not marked for nbval "
                                          "(strip outputs or add '# NBVAL_CHECK_OUTPUT')"))
        if cell.cell_type == "code" and "parameters" not in cell.get("metadata", {}).get("tags", []):
            problems.extend(Problem(path, f"cell {index}: {text} [cell id {cell.get('id', '?')}]")
                            for text in control_flow(cell.source))
    if decisions and keeps_decisions_out(path):
        problems.extend(decision_problems(path, nb, param_cells))
    return problems


def readonly_rbac_problems(rules: list[dict[str, Any]]) -> list[str]:
    """Why ``rules`` are more than a read-only notebook may hold, one sentence per rule; empty when they only read.

    The risk class decides which runner role a schedule gets (kubebook.schedule.cronjobs), so a
    ``readonly`` notebook asking for ``*`` or a write verb would hand that to every read-only run.
    """
    found = []
    for number, rule in enumerate(rules, 1):
        wrong = [f"API group {g!r}" for g in rule.get("apiGroups", []) if "*" in g]
        wrong += [f"resource {r!r}" for r in rule.get("resources", []) if "*" in r]
        wrong += [f"verb {v!r}" for v in rule.get("verbs", []) if v not in READ_VERBS]
        if rule.get("nonResourceURLs"):
            wrong.append("nonResourceURLs")
        if wrong:
            found.append(f"kubebook metadata 'rbac' rule {number} grants {', '.join(wrong)} but the notebook's "
                         f"risk is 'readonly' (use the verbs {', '.join(READ_VERBS)} on named API groups and "
                         "resources, or declare risk 'mutating')")
    return found


_LOGIC = {ast.FunctionDef: "a 'def'", ast.AsyncFunctionDef: "a 'def'", ast.ClassDef: "a 'class'",
          ast.Lambda: "a 'lambda'", ast.For: "a 'for' loop", ast.AsyncFor: "a 'for' loop",
          ast.While: "a 'while' loop", ast.Try: "a 'try'"}


def control_flow(source: str) -> list[str]:
    """What in a code cell's source is more control flow than a runbook step needs, one message each."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # IPython magics and the like: the kernel reports real syntax errors
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        what = _LOGIC.get(type(node))
        if what is None and isinstance(node, ast.If) and node.orelse:
            what = "an 'if' with 'elif'/'else'"
        if what is not None:
            line = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
            found.append(f"holds {what} at line {node.lineno} ({line[:60]!r}); move the logic into a library "
                         "function in lib/kubebook and call it from the cell")
    return found


DECISION_DIRS = ("runbooks", "notebooks")
# Where a name may come from without its call counting as an engine call: drawing and recording.
NOT_ENGINES = ("kubebook.views", "kubebook.notebook")
PUBLIC_MODULES = ("kubebook", "kubebook.views")


def keeps_decisions_out(path: Path) -> bool:
    """True for the notebooks the decision rules apply to: runbooks and notebooks, not the rendered labs."""
    return path.parent.name in DECISION_DIRS


def decision_problems(path: Path, nb: Any, param_cells: list[Any]) -> list[Problem]:
    """Every decision, engine-call surplus and deep import in the cells of ``nb``, each naming its cell."""
    params: set[str] = set()
    if len(param_cells) == 1:
        try:
            params = set(parameter_names(param_cells[0].source))
        except SyntaxError:
            params = set()
    cells = [(i, c) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]
    trees = {i: _parse(c.source) for i, c in cells}
    bound = {}
    for tree in trees.values():
        if tree is not None:
            bound.update(imported_names(tree))
    problems = []
    for index, cell in cells:
        tree = trees[index]
        if tree is None:
            continue
        cell_id = f" [cell id {cell.get('id', '?')}]"
        problems.extend(Problem(path, f"cell {index}: {text}{cell_id}")
                        for text in decisions(tree, cell.source, params))
        problems.extend(Problem(path, f"cell {index}: {text}{cell_id}") for text in deep_imports(tree))
        calls = engine_calls(tree, bound)
        if len(calls) > 1:
            problems.append(Problem(path, f"cell {index}: makes {len(calls)} engine calls ({', '.join(calls)}); "
                                          "a runbook cell makes at most one: compose them in one library "
                                          f"function (a use case in lib/kubebook) and call that{cell_id}"))
    return problems


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None  # IPython magics and the like: the kernel reports real syntax errors


def _snippet(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    line = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
    return repr(line[:60])


def _reads(node: ast.AST, names: set[str]) -> list[str]:
    return sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names})


def decisions(tree: ast.Module, source: str, params: set[str]) -> list[str]:
    """The conditional expressions and the boolean logic on parameters in one cell, one message each."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp):
            found.append(f"holds a conditional expression ('x if c else y') at line {node.lineno} "
                         f"({_snippet(source, node)}); let an engine function decide and return the value")
        elif isinstance(node, ast.BoolOp) and (read := _reads(node, params)):
            op = "and" if isinstance(node.op, ast.And) else "or"
            found.append(f"holds boolean logic ('{op}') on the parameter(s) {', '.join(read)} at line "
                         f"{node.lineno} ({_snippet(source, node)}); pass the parameter as it is to an engine "
                         "function that decides (and says why)")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and (read := _reads(node, params)):
            found.append(f"holds boolean logic ('not') on the parameter(s) {', '.join(read)} at line "
                         f"{node.lineno} ({_snippet(source, node)}); pass the parameter as it is to an engine "
                         "function that decides (and says why)")
    return found


def imported_names(tree: ast.Module) -> dict[str, str]:
    """Each name a cell binds by importing from kubebook, mapped to the dotted path it stands for."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "kubebook" or alias.name.startswith("kubebook."):
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "kubebook" or node.module.startswith("kubebook.")):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _home(dotted: str) -> str:
    """``kubebook.<public name>...`` resolved to the module the public name comes from."""
    from kubebook import public_home

    parts = dotted.split(".")
    if len(parts) > 1 and parts[0] == "kubebook" and (home := public_home(parts[1])):
        return ".".join([home, *parts[1:]])
    return dotted


def _callee(func: ast.expr) -> tuple[str, list[str]] | None:
    attrs: list[str] = []
    while isinstance(func, ast.Attribute):
        attrs.insert(0, func.attr)
        func = func.value
    return (func.id, attrs) if isinstance(func, ast.Name) else None


def engine_calls(tree: ast.Module, bound: dict[str, str]) -> list[str]:
    """The engine calls of one cell (see the module docstring), as the dotted names the cell wrote, in order."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or (callee := _callee(node.func)) is None:
            continue
        root, attrs = callee
        if root not in bound:
            continue
        dotted = _home(".".join([bound[root], *attrs]))
        if any(dotted == m or dotted.startswith(m + ".") for m in NOT_ENGINES):
            continue
        found.append(".".join([root, *attrs]))
    return sorted(found, key=lambda name: name)


def deep_imports(tree: ast.Module) -> list[str]:
    """Why each kubebook import in a cell reaches past the public API, one message each."""
    from kubebook import __all__ as public

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kubebook."):
                    found.append(f"imports {alias.name} at line {node.lineno}; a runbook imports only from "
                                 "kubebook's public API ('from kubebook import ...') and kubebook.views")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kubebook":
                for alias in node.names:
                    if alias.name not in public:
                        found.append(f"imports {alias.name!r} from kubebook at line {node.lineno}, which is not in "
                                     "kubebook.__all__; use a public name (a use case or result type)")
            elif node.module.startswith("kubebook.") and node.module not in PUBLIC_MODULES:
                names = ", ".join(a.name for a in node.names)
                found.append(f"imports {names} from {node.module} at line {node.lineno} (a deep import); a "
                             "runbook imports only from kubebook's public API ('from kubebook import ...') "
                             "and kubebook.views")
    return found


def _check_schema(path: Path, meta: dict[str, Any], param_cells: list[Any]) -> list[Problem]:
    if "parameters" not in meta:
        return []
    schema = meta["parameters"]
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return [Problem(path, "kubebook metadata 'parameters' must be a JSON Schema with type 'object'")]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return [Problem(path, f"kubebook metadata 'parameters' is not a valid JSON Schema: {error.message}")]
    if len(param_cells) != 1:
        return []
    try:
        names = parameter_names(param_cells[0].source)
    except SyntaxError as error:
        return [Problem(path, f"the parameters cell is not valid Python: {error}")]
    declared = set(schema.get("properties", {}))
    problems = []
    for name in sorted(set(names) - declared):
        problems.append(Problem(path, f"parameter '{name}' is assigned in the parameters cell "
                                      "but missing from the kubebook 'parameters' schema"))
    for name in sorted(declared - set(names)):
        problems.append(Problem(path, f"parameter '{name}' is in the schema but not assigned in the "
                                      "parameters cell"))
    return problems
