"""The layer rules in .importlinter hold, and the checker sees a broken rule (it is not vacuous).

The positive check reads ``.importlinter`` itself, the file ``make lint`` reads
(``lint-imports --no-cache .importlinter``): lint and tests check the same rules. Only the negative checks
write a changed copy, to show each rule bites.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / ".importlinter"
ENGINES = ("audit", "provision", "dr", "capacity", "labs")  # at least these: none may drop out of the rules


def run_lint(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values()
               if isinstance(lg, logging.Logger) and not lg.disabled]
    try:
        code = lint_imports(config_filename=str(path), no_cache=True, no_logo=True)
    finally:  # import-linter configures logging with disable_existing_loggers: give later tests theirs back
        for logger in loggers:
            logger.disabled = False
    return code, capsys.readouterr().out


def lint(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """lint-imports over a changed copy of the contracts (negative checks only)."""
    path = tmp_path / "importlinter.ini"
    path.write_text(text, encoding="utf-8")
    return run_lint(path, capsys)


def config() -> str:
    return CONFIG.read_text(encoding="utf-8")


def test_the_config_names_every_engine_in_both_engine_rules() -> None:
    # Both engine rules: the engines' layer and the independence contract, each engine named plainly once.
    text = config()
    layer = re.search(r"^\s+audit\b.*$", text, flags=re.MULTILINE)
    assert layer, "no layer line holds the audit engine"
    for engine in ENGINES:
        assert re.findall(r"[a-z_]+", layer.group(0)).count(engine) == 1, engine
        assert len(re.findall(rf"^\s+kubebook\.{engine}\s*$", text, flags=re.MULTILINE)) == 1, engine


def test_the_package_keeps_its_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_lint(CONFIG, capsys)
    assert code == 0, out
    assert "BROKEN" not in out and out.count("KEPT") == 4, out


def test_a_client_import_outside_the_client_layer_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without the exemption for kubebook.cluster the rule must break: the checker sees real imports.
    changed = config().replace("    kubebook.cluster -> kubernetes\n", "")
    code, out = lint(changed, tmp_path, capsys)
    assert code != 0 and "kubebook.cluster -> kubernetes" in out, out


def test_make_lint_reads_the_file_the_tests_read() -> None:
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert recipe, "no lint target in the Makefile"
    command = next(line for line in recipe.group(1).splitlines() if "lint-imports" in line)
    assert command.split()[-1] == ".importlinter" and "--no-cache" in command, command


def test_an_engine_importing_a_view_breaks_the_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The engines' layer moved above the views': the views' real imports of the engines now point upwards.
    text = config()
    engines = re.search(r"^    audit\b.*\n", text, flags=re.MULTILINE).group(0)
    views = "    views : notebook\n"
    swapped = text.replace(views + engines, engines + views)
    assert swapped != text
    code, out = lint(swapped, tmp_path, capsys)
    assert code != 0 and "kubebook.views is not allowed to import kubebook.audit" in out.replace("\n", " "), out


def test_a_module_in_no_layer_breaks_the_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = config()
    dropped = re.sub(r"^(    audit\b.*) : overview\b", r"\1", text, count=1, flags=re.MULTILINE)
    assert dropped != text
    code, out = lint(dropped, tmp_path, capsys)
    assert code != 0 and "not listed as layers" in out and "- kubebook.overview" in out, out


def test_engines_importing_each_other_break_independence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = config()
    unignored = text.replace("    kubebook.labs.local -> kubebook.audit.engine\n", "")
    assert unignored != text
    code, out = lint(unignored, tmp_path, capsys)
    assert code != 0 and "kubebook.labs.local -> kubebook.audit.engine" in out, out
