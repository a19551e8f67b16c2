"""Command groups that the design names but that have no commands yet.

They appear in ``kubebook --help`` so the shape of the tool is visible; invoking
one says plainly that nothing is implemented rather than pretending to work.
"""

from __future__ import annotations

import argparse

from kubebook.errors import NotAvailableError


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=lambda args: _not_available(name))


def _not_available(name: str) -> int:
    raise NotAvailableError(
        f"'kubebook {name}' has no commands in this version",
        hint="see the README's roadmap; use the matching runbook under runbooks/ meanwhile",
    )
