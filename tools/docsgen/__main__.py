"""``python -m tools.docsgen [--check]``: write the generated pages of docs/, or fail when one is stale."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from . import cli_ref, labs, runbooks
from .common import ROOT

PAGES: dict[str, Callable[[], str]] = {
    "docs/reference/cli.md": cli_ref.render,
    "docs/runbooks.md": runbooks.render,
    "docs/labs.md": labs.render,
}


def stale(root: Path = ROOT) -> list[str]:
    """Generated pages whose committed text differs from what the generator writes now."""
    out = []
    for rel, render in PAGES.items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != render():
            out.append(rel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docsgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale page")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for rel in found:
            sys.stderr.write(f"{rel} is stale: run `python -m tools.docsgen` and commit it\n")
        return 1 if found else 0
    for rel, render in PAGES.items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
