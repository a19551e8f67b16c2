"""The layer rules in .importlinter hold, and the checker sees a broken rule (it is not vacuous).

Engines named with ``.**`` in the config (not written yet when the rules were) are
named as whole packages here once they exist, so their ``__init__`` is checked too.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lib" / "kubebook"
ENGINES = ("audit", "provision", "dr", "capacity", "labs")


def config_for_today() -> str:
    """.importlinter with every engine that exists named as a package (``kubebook.dr`` for ``kubebook.dr.**``)."""
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")

    def name(match: re.Match[str]) -> str:
        module = match.group(1)
        return module if (PACKAGE / module.split(".", 1)[1] / "__init__.py").is_file() else match.group(0)

    return re.sub(r"(kubebook\.[a-z_]+)\.\*\*(?=\s*$)", name, text, flags=re.MULTILINE)


def lint(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "importlinter.ini"
    path.write_text(config, encoding="utf-8")
    capsys.readouterr()
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values()
               if isinstance(lg, logging.Logger) and not lg.disabled]
    try:
        code = lint_imports(config_filename=str(path), no_cache=True, no_logo=True)
    finally:  # import-linter configures logging with disable_existing_loggers: give later tests theirs back
        for logger in loggers:
            logger.disabled = False
    return code, capsys.readouterr().out


def test_the_config_names_every_engine_in_both_engine_rules() -> None:
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")
    for engine in ENGINES:
        assert len(re.findall(rf"^\s+kubebook\.{engine}(\.\*\*)?\s*$", text, flags=re.MULTILINE)) == 2, engine


def test_the_package_keeps_its_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint(config_for_today(), tmp_path, capsys)
    assert code == 0, out
    assert "BROKEN" not in out and out.count("KEPT") == 4, out


def test_a_client_import_outside_the_client_layer_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without the exemption for kubebook.cluster the rule must break: the checker sees real imports.
    config = config_for_today().replace("    kubebook.cluster -> kubernetes\n", "")
    code, out = lint(config, tmp_path, capsys)
    assert code != 0 and "kubebook.cluster -> kubernetes" in out, out
