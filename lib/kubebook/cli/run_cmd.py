"""`kubebook run` commands."""

from __future__ import annotations

import argparse

from kubebook.cli.planned_cmd import register as _register_planned


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    _register_planned(groups, name, help_text)
