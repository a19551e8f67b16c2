"""The documentation site: generated pages are not stale; `mkdocs build --strict` passes and fails on a broken link.

A process test (tests/conftest.py PROCESS_TESTS): it runs the generator and mkdocs in fresh interpreters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable
MKDOCS = Path(PYTHON).with_name("mkdocs")
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}

sys.path.insert(0, str(ROOT))
from tools.docsgen import __main__ as docsgen  # noqa: E402
from tools.docsgen import cli_ref, runbooks  # noqa: E402

pytestmark = pytest.mark.process  # the docs generator and mkdocs build in fresh interpreters


def _build(folder: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MKDOCS), "build", "--strict", "-f", str(folder / "mkdocs.yml"), "-d", str(out)],
                          capture_output=True, text=True, env=ENV, timeout=300, check=False)


def _site_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    return copy


def test_the_generated_pages_are_not_stale() -> None:
    done = subprocess.run([PYTHON, "-m", "tools.docsgen", "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def test_a_stale_page_is_named_by_the_check(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for rel in docsgen.PAGES:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, copy / rel)
    page = copy / "docs/runbooks.md"
    page.write_text(page.read_text(encoding="utf-8").replace("readonly", "read-only", 1), encoding="utf-8")
    assert docsgen.stale(copy) == ["docs/runbooks.md"]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "cli.html").is_file()
    offsite = [p for p in (tmp_path / "site").rglob("*.html")
               if "fonts.googleapis" in p.read_text(encoding="utf-8") or "<script src=\"http" in p.read_text(
                   encoding="utf-8")]
    assert offsite == []  # the site loads nothing from off the machine


@pytest.mark.parametrize("broken", ["[gone](no-such-page.md)", "[gone](runbooks.md#no-such-anchor)"])
def test_a_broken_link_fails_the_build(tmp_path: Path, broken: str) -> None:
    copy = _site_copy(tmp_path)
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + f"\n{broken}\n", encoding="utf-8")
    done = _build(copy, tmp_path / "site")
    assert done.returncode != 0
    assert broken.split("(")[1].rstrip(")") in done.stderr


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found = set()
    for action in parser._actions:
        found.update(s for s in action.option_strings if s not in ("-h", "--help"))
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _options(child)
    return found


def test_the_cli_reference_names_every_command_and_flag_of_the_parser() -> None:
    page = (ROOT / "docs/reference/cli.md").read_text(encoding="utf-8")
    for name, _, parser in cli_ref.group_parsers():
        assert f"## `kubebook {name}`" in page
        missing = [flag for flag in _options(parser) if f"`{flag}`" not in page]
        assert missing == [], (name, missing)


def test_the_runbook_catalog_has_every_parameter_with_its_default_and_every_schedule() -> None:
    page = (ROOT / "docs/runbooks.md").read_text(encoding="utf-8")
    for path in runbooks.notebooks():
        meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kubebook"]
        assert f"## {path.stem}\n" in page
        for name in meta["parameters"].get("properties", {}):
            assert f"| `{name}` |" in page, (path.name, name)
    assert "| `etcd-drill` | `0 3 * * 0` | `dry_run=false` | yes |" in page  # the backup is its own runbook now
    assert "| `etcd-backup` | `20 */6 * * *` | `cluster_name=\"default\"`, `dry_run=false` | yes |" in page


def _missing_targets(markdown: str, base: Path) -> list[str]:
    """Relative link targets of ``markdown`` (README.md is outside the site, so mkdocs does not check it)."""
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", markdown) if not re.match(r"[a-z]+://|#", t)]
    return [t for t in targets if not (base / t).exists()]


def test_every_relative_link_of_the_readme_resolves() -> None:
    assert _missing_targets((ROOT / "README.md").read_text(encoding="utf-8"), ROOT) == []
    assert _missing_targets("[a](docs/index.md) [b](docs/no-such-page.md)", ROOT) == ["docs/no-such-page.md"]
