"""The public API (``kubebook/__init__.py``) hides no import from the layer rules.

The package root exports its use cases lazily (a module ``__getattr__`` imports the home module on first use),
so import-linter sees ``from kubebook import guard`` as an import of the root package only, never of
``kubebook.notebook`` behind it: an engine could reach up into the views through the facade and every contract
would stay KEPT. Two rules close that hole:

- inside the library, ``from kubebook import X`` names only what ``__init__.py`` defines itself (``__version__``,
  ``KubebookError``, ...); a use case or a view is imported from the module that defines it, an edge the
  contracts see;
- the facade exports nothing from above the presentation layer (no runner, schedule, conventions, report server
  or CLI): a runbook that the runner executes must not need the runner.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "lib" / "kubebook"


def declared_layers() -> list[list[str]]:
    """The layers contract's layers, top first, each as its module tails (see test_layers_coverage.py)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter", encoding="utf-8")
    contract = next(parser[s] for s in parser.sections() if parser[s].get("type") == "layers")
    return [[part.strip().strip("()").strip() for part in re.split(r"[|:]", line) if part.strip()]
            for line in contract["layers"].splitlines() if line.strip()]


def eager_names() -> set[str]:
    """The names ``kubebook/__init__.py`` binds at import time (no lazy lookup behind them)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def facade_imports(source: str, eager: set[str]) -> list[str]:
    """Each import in ``source`` that goes through the root's lazy names (or binds the root itself)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "kubebook" and not node.level:
            found += [f"line {node.lineno}: from kubebook import {a.name}" for a in node.names
                      if a.name not in eager and not (PACKAGE / a.name).is_dir()
                      and not (PACKAGE / f"{a.name}.py").is_file()]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name == "kubebook"]
    return found


def test_the_library_imports_no_lazy_public_name() -> None:
    eager = eager_names()
    offenders = [f"{path.relative_to(PACKAGE.parent)} {hit}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "__init__.py"
                 for hit in facade_imports(path.read_text(encoding="utf-8"), eager)]
    assert not offenders, ("library modules import through kubebook's lazy public API, which lint-imports cannot "
                           f"follow; import the defining module instead: {offenders}")


def test_the_check_sees_an_import_through_the_facade() -> None:
    source = ("from kubebook import __version__\nfrom kubebook import errors\n\n"
              "def f():\n    from kubebook import guard\n")
    assert facade_imports(source, {"__version__"}) == ["line 5: from kubebook import guard"]
    assert facade_imports("import kubebook\nimport kubebook.cluster\n", set()) == ["line 1: import kubebook"]


def test_the_public_api_exports_nothing_from_above_the_presentation_layer() -> None:
    kubebook = importlib.import_module("kubebook")
    home_of = getattr(kubebook, "public_home", None)
    if home_of is None:
        pytest.fail("kubebook.public_home(name) is gone: this test needs another way to find a name's module")
    layers = declared_layers()
    presentation = next(i for i, layer in enumerate(layers) if "views" in layer)
    above = {name for layer in layers[:presentation] for name in layer}
    homes = {name: home_of(name) for name in kubebook.__all__}
    reaching_up = sorted(f"{name} ({home})" for name, home in homes.items()
                         if home and home.split(".")[1] in above)
    assert not reaching_up, f"the public API exports from above the views and notebook layer: {reaching_up}"
