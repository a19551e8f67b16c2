"""Check an archive against its ledger and name everything that does not match.

Four things can be wrong, and each problem names the file or ledger line:
the chain itself (an entry edited, deleted or re-ordered); an artifact whose
bytes no longer hash to the ledger's value (modified) or that is gone (deleted);
a file in a sealed folder that the ledger never listed (added); and a run
folder that the ledger does not know (planted, or sealed without an entry).
Runs removed by ``kubebook reports prune`` are expected to be absent: the prune
wrote a ledger entry naming them.
"""

from __future__ import annotations

from pathlib import Path

from kubebook.archive import ledger
from kubebook.archive.store import QUARANTINE


def run_folders(root: Path) -> set[str]:
    """Relative paths of every ``<runbook>/<YYYY>/<MM>/<run-id>`` folder on disk."""
    found: set[str] = set()
    for runbook in root.iterdir() if root.is_dir() else []:
        if not runbook.is_dir() or runbook.name.startswith(".") or runbook.name == QUARANTINE:
            continue
        for folder in runbook.glob("*/*/*"):
            if folder.is_dir() and not folder.name.startswith("."):
                found.add(folder.relative_to(root).as_posix())
    return found


def verify(root: Path) -> list[str]:
    """Every problem found; an empty list means the archive matches its ledger."""
    lines = ledger.read_lines(root / ledger.LEDGER)
    problems = ledger.chain_problems(lines)
    sealed: dict[str, dict[str, str]] = {}
    for line in lines:
        entry = line.entry or {}
        if entry.get("type") == "run" and isinstance(entry.get("path"), str):
            sealed[entry["path"]] = dict(entry.get("artifacts") or {})
        elif entry.get("type") == "prune":
            for removed in entry.get("removed", []):
                sealed.pop(removed.get("path", ""), None)
    on_disk = run_folders(root)
    if not lines and on_disk:
        problems.append(f"{ledger.LEDGER} is missing or empty but {len(on_disk)} run folder(s) exist")
    for relpath, artifacts in sorted(sealed.items()):
        folder = root / relpath
        if not folder.is_dir():
            problems.append(f"{relpath}: run folder deleted (not by 'kubebook reports prune')")
            continue
        for name, expected in sorted(artifacts.items()):
            path = folder / name
            if not path.is_file():
                problems.append(f"{relpath}/{name}: deleted")
            elif ledger.sha256(path.read_bytes()) != expected:
                problems.append(f"{relpath}/{name}: modified (its SHA-256 differs from the ledger's)")
        for extra in sorted(p.name for p in folder.iterdir() if p.name not in artifacts):
            problems.append(f"{relpath}/{extra}: not in the ledger (added after sealing)")
    for relpath in sorted(on_disk - set(sealed)):
        problems.append(f"{relpath}: run folder not in the ledger (planted, or its prune did not finish)")
    return problems
