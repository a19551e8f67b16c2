"""The kubebook command's shape: groups listed, usage errors exit 2 with a hint, errors are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubebook.cli import GROUPS

pytestmark = pytest.mark.process  # the CLI in a fresh interpreter


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                          check=False)


def test_help_lists_every_command_group() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for group, _, _ in GROUPS:
        assert group in result.stdout, f"group {group} missing from --help"
    assert {g for g, _, _ in GROUPS} >= {"cluster", "run", "reports", "schedule", "audit", "provision", "dr",
                                          "capacity", "lab"}


def test_unknown_subcommand_exits_2_with_one_line_hint() -> None:
    result = run_cli("nosuch")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "nosuch" in lines[0] and "kubebook --help" in lines[0]


def test_bad_flag_exits_2_with_hint() -> None:
    result = run_cli("--no-such-flag")
    assert result.returncode == 2
    assert "Try 'kubebook --help'" in result.stderr



def test_every_command_module_is_a_registered_group() -> None:
    """A ``*_cmd.py`` module no group registers is dead code (the planned-group placeholder was one)."""
    from pathlib import Path

    from kubebook import cli

    modules = {f"kubebook.cli.{p.stem}" for p in Path(cli.__file__).parent.glob("*_cmd.py")}
    assert modules == {module for _, module, _ in GROUPS}
