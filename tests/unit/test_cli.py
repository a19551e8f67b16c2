"""The kubebook command's shape: groups listed, usage errors exit 2 with a hint, errors are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubebook.cli import GROUPS, main


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


def test_planned_group_says_it_has_no_commands(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from kubebook import cli

    # every group of this version has commands; a planned one is registered here to keep its message tested
    monkeypatch.setattr(cli, "GROUPS", [*cli.GROUPS, ("someday", "kubebook.cli.planned_cmd", "planned")])
    code = main(["someday"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kubebook: 'kubebook someday' has no commands")
    assert "Traceback" not in err
