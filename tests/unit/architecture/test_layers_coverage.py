"""Every module of kubebook sits in a layer of ``.importlinter``, and every engine has a public surface.

import-linter only checks the modules a contract names: a module in no layer may import anything and be
imported by anything, silently. So the layers contract must name every child of ``kubebook`` (it is
``exhaustive``, so ``make lint`` refuses a new module too), no folder of ``lib/kubebook`` may hide from the
import graph (a folder without ``__init__.py`` is not a module to grimp), and the engines - the members of
the ``independence`` contract - must each be one layer's siblings and offer a public surface that a CLI
command, a runbook cell and a schedule can all call.

The contract is read from the file itself, exactly as ``make lint`` reads it: nothing here rewrites it.
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
CONFIG = ROOT / ".importlinter"
PUBLIC_MODULES = ("api", "usecase")  # an engine's public surface, beside a non-empty ``__init__.__all__``


def contracts() -> dict[str, dict[str, str]]:
    """The contracts of ``.importlinter`` by id (``[importlinter:contract:<id>]``)."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    prefix = "importlinter:contract:"
    return {name[len(prefix):]: dict(parser[name]) for name in parser.sections() if name.startswith(prefix)}


def values(text: str) -> list[str]:
    """A multi-line option as its non-empty lines (full-line ``;`` comments are dropped by configparser)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def layers_contract() -> dict[str, str] | None:
    """The one layers contract whose container is the whole package, or None when there is none."""
    found = [c for c in contracts().values()
             if c.get("type") == "layers" and values(c.get("containers", "")) == ["kubebook"]]
    assert len(found) <= 1, "more than one layers contract over kubebook: which one states the order?"
    return found[0] if found else None


def layer_members(line: str) -> list[str]:
    """``views : notebook`` / ``schedule | reportserver`` / ``(optional)`` -> the module tails."""
    return [part.strip().strip("()").strip() for part in re.split(r"[|:]", line) if part.strip()]


def declared_layers() -> list[list[str]]:
    contract = layers_contract()
    return [layer_members(line) for line in values(contract["layers"])] if contract else []


def package_children() -> set[str]:
    """The direct children of ``kubebook`` as import-linter sees them: modules and packages."""
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return modules | packages


def independence_contracts() -> list[dict[str, str]]:
    return [c for c in contracts().values() if c.get("type") == "independence"]


def engines() -> list[str]:
    """The engines: the modules of the independence contract, as tails of ``kubebook`` (none without one:
    :func:`test_one_independence_contract_names_the_engines` fails then)."""
    found = independence_contracts()
    return [name.removeprefix("kubebook.") for name in values(found[0]["modules"])] if len(found) == 1 else []


def test_every_module_of_the_package_belongs_to_a_layer() -> None:
    layered = {name for layer in declared_layers() for name in layer}
    orphans = sorted(package_children() - layered)
    assert not orphans, f"modules of lib/kubebook in no layer of .importlinter: {', '.join(orphans)}"


def test_the_layers_contract_names_only_modules_that_exist_and_says_so_itself() -> None:
    contract = layers_contract()
    assert contract is not None, "no layers contract with containers = kubebook in .importlinter"
    # exhaustive: lint-imports itself refuses a child of kubebook that no layer names (make lint, not only here)
    assert contract.get("exhaustive", "").strip().lower() == "true", "the layers contract must be exhaustive"
    required = {m for line in values(contract["layers"]) for m in layer_members(line)
                if f"({m})" not in line}
    assert not sorted(required - package_children()), "layers name modules that do not exist"


def test_no_folder_of_the_package_hides_from_the_import_graph() -> None:
    # A folder of .py files without __init__.py is a namespace package: grimp does not walk it, so no
    # contract checks what it imports.
    hidden = sorted(str(d.relative_to(PACKAGE)) for d in PACKAGE.rglob("*")
                    if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
                    and not (d / "__init__.py").is_file())
    assert not hidden, f"folders with Python modules but no __init__.py (invisible to lint-imports): {hidden}"


def test_no_module_is_named_with_a_wildcard() -> None:
    # ``kubebook.x.**`` names x's descendants but not ``kubebook.x`` itself: its __init__ goes unchecked.
    # Modules a contract is *about* (sources, independent modules, containers, layers, ignored importers) are
    # named plainly; ``kubebook.*`` as what errors may not import (every child, as a package) is no such trap.
    wild = [f"{cid}.{key}: {line}" for cid, contract in contracts().items()
            for key in ("source_modules", "modules", "containers", "layers", "ignore_imports")
            for line in values(contract.get(key, "")) if "*" in line]
    assert not wild, f"wildcards in .importlinter (the __init__ they skip goes unchecked): {wild}"


def test_one_independence_contract_names_the_engines() -> None:
    found = independence_contracts()
    assert len(found) == 1, f"expected one independence contract between the engines, found {len(found)}"
    assert engines(), "the independence contract names no engine"


def test_the_engines_are_siblings_of_one_layer() -> None:
    names = engines()
    holding = [layer for layer in declared_layers() if set(names) & set(layer)]
    assert len(holding) == 1 and set(holding[0]) == set(names), (
        f"the independence contract's engines {names} must be exactly one layer, not {holding}")


def public_functions(path: Path) -> list[str]:
    """Top-level public functions a module defines (read from its source: no import needed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")]


def exported_callables(module_name: str) -> list[str]:
    """The names ``__all__`` exports that are use cases: callables other than exception classes."""
    module = importlib.import_module(module_name)
    exported = list(getattr(module, "__all__", []))
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names what it does not define: {missing}"
    return [name for name in exported
            if callable(getattr(module, name))
            and not (isinstance(getattr(module, name), type) and issubclass(getattr(module, name), BaseException))]


@pytest.mark.parametrize("engine", engines())
def test_every_engine_has_a_public_surface(engine: str) -> None:
    """An engine is called through its public surface: an ``api``/``usecase`` module defining functions,
    or an ``__init__`` whose ``__all__`` exports at least one callable that is not an error type."""
    folder = PACKAGE / engine
    if not folder.is_dir():  # a one-module engine is its own surface
        assert public_functions(PACKAGE / f"{engine}.py"), f"kubebook.{engine} defines no public function"
        return
    surfaces = [f"kubebook.{engine}.{m}" for m in PUBLIC_MODULES
                if (folder / f"{m}.py").is_file() and public_functions(folder / f"{m}.py")]
    surfaces += [f"kubebook.{engine}.__all__"] if exported_callables(f"kubebook.{engine}") else []
    assert surfaces, (f"kubebook.{engine} has no public surface: add {engine}/api.py or {engine}/usecase.py "
                      f"with the use-case functions, or export them from {engine}/__init__.py's __all__")
