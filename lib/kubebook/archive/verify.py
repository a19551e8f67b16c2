"""Check an archive against its ledger and name everything that does not match.

Five things can be wrong, and each problem names the file or ledger line:
the chain itself (an entry edited, deleted or re-ordered); a path that is not a
real folder inside the root (a symlink anywhere on the way, ``..``, an absolute
path: never followed, never deleted); an artifact whose bytes no longer hash to
the ledger's value (modified), that is gone (deleted) or that is a hard link
(another name, possibly outside the archive, shares and can change its bytes); a file in a sealed
folder that the ledger never listed (added); and a run folder that the ledger
does not know (planted, or sealed without an entry). Runs removed by ``kubebook
reports prune`` are expected to be absent: the prune wrote a ledger entry naming
them.

:func:`structural_problems` is the cheap part (no artifact is hashed); prune runs
it first and refuses to delete anything in a damaged archive.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from kubebook.archive import ledger
from kubebook.archive.assets import ASSETS, NAME
from kubebook.archive.store import QUARANTINE

RUN_DEPTH = 4  # <runbook>/<YYYY>/<MM>/<run-id>
SPECIAL = {QUARANTINE, ".schedule", ASSETS}


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def path_problem(root: Path, relpath: Any, *, on_disk: bool = True) -> str | None:
    """Why ``relpath`` (from the ledger) is not a run folder path inside ``root``; None when it is.

    Only the text and symlinks are judged here: a folder that does not exist is
    fine (pruned, or the 'deleted' problem reports it). ``on_disk=False`` judges the text alone.
    """
    if not isinstance(relpath, str) or not relpath:
        return "path is missing"
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or "\\" in relpath or "\0" in relpath:
        return f"path {relpath!r} is outside the archive (absolute)"
    if any(part in ("..", ".", "") for part in relpath.split("/")):
        return f"path {relpath!r} is outside the archive (it climbs with '..')"
    if len(pure.parts) != RUN_DEPTH or pure.parts[0] in SPECIAL or pure.parts[0].startswith("."):
        return f"path {relpath!r} is not a <runbook>/<YYYY>/<MM>/<run-id> folder"
    if not on_disk:
        return None
    current = root
    for part in pure.parts:
        current = current / part
        info = _lstat(current)
        if info is None:
            return None
        if stat.S_ISLNK(info.st_mode):
            return f"{current.relative_to(root).as_posix()} is a symbolic link, not a folder (never followed)"
        if not stat.S_ISDIR(info.st_mode):
            return f"{current.relative_to(root).as_posix()} is not a folder"
    return None


def run_folders(root: Path) -> tuple[set[str], list[str]]:
    """Relative paths of every real ``<runbook>/<YYYY>/<MM>/<run-id>`` folder, and every symlink met on the way.

    Walks with ``lstat`` and never descends into a symlink.
    """
    found: set[str] = set()
    links: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for child in children:
            if child.name.startswith(".") or (depth == 0 and child.name in SPECIAL):
                continue
            rel = Path(child.path).relative_to(root).as_posix()
            if child.is_symlink():
                links.append(rel)
            elif child.is_dir(follow_symlinks=False):
                if depth + 1 == RUN_DEPTH:
                    found.add(rel)
                else:
                    walk(Path(child.path), depth + 1)

    if root.is_dir() and not root.is_symlink():
        walk(root, 0)
    return found, links


def _sealed(lines: list[ledger.Line], root: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The live run paths with their ledger entries, and every ledger path that is not safe."""
    sealed: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for line in lines:
        entry = line.entry or {}
        if entry.get("type") == "run":
            problem = path_problem(root, entry.get("path"))
            if problem:
                problems.append(f"{ledger.LEDGER} line {line.number} ({entry.get('run_id')}): {problem}")
                continue
            sealed[entry["path"]] = entry
        elif entry.get("type") == "prune":
            for removed in entry.get("removed") or []:
                path = removed.get("path") if isinstance(removed, dict) else None
                problem = path_problem(root, path)
                if problem:
                    problems.append(f"{ledger.LEDGER} line {line.number} (prune): {problem}")
                else:
                    sealed.pop(str(path), None)
    return sealed, problems


def structural_problems(root: Path) -> list[str]:
    """The chain, the paths and the symlinks: what must be right before anything is deleted."""
    if root.is_symlink():
        return [f"the archive root {root} is a symbolic link (never followed)"]
    lines = ledger.read_lines(root / ledger.LEDGER)
    problems = ledger.chain_problems(lines)
    _, unsafe = _sealed(lines, root)
    _, links = run_folders(root)
    if (root / ASSETS).is_symlink():
        links.append(ASSETS)
    return problems + unsafe + [f"{rel}: is a symbolic link inside the archive (never followed)" for rel in links]


def verify(root: Path) -> list[str]:
    """Every problem found; an empty list means the archive matches its ledger."""
    if root.is_symlink():
        return [f"the archive root {root} is a symbolic link (never followed)"]
    lines = ledger.read_lines(root / ledger.LEDGER)
    problems = ledger.chain_problems(lines)
    sealed, unsafe = _sealed(lines, root)
    problems += unsafe
    on_disk, links = run_folders(root)
    problems += [f"{rel}: is a symbolic link inside the archive (never followed)" for rel in links]
    if not lines and on_disk:
        problems.append(f"{ledger.LEDGER} is missing or empty but {len(on_disk)} run folder(s) exist")
    if (root / ASSETS).is_symlink():
        problems.append(f"{ASSETS}: is a symbolic link inside the archive (never followed)")
    for relpath, entry in sorted(sealed.items()):
        artifacts = entry.get("artifacts") if isinstance(entry.get("artifacts"), dict) else {}
        folder = root / relpath
        info = _lstat(folder)
        if info is None:
            problems.append(f"{relpath}: run folder deleted (not by 'kubebook reports prune')")
            continue
        if not stat.S_ISDIR(info.st_mode):
            if not stat.S_ISLNK(info.st_mode):
                problems.append(f"{relpath}: is not a folder")
            continue  # a symlink is already named above
        for name, expected in sorted(artifacts.items()):
            problems.extend(_artifact_problem(folder / name, f"{relpath}/{name}", expected))
        for extra in sorted(p.name for p in folder.iterdir() if p.name not in artifacts):
            problems.append(f"{relpath}/{extra}: not in the ledger (added after sealing)")
    for relpath in sorted(on_disk - set(sealed)):
        problems.append(f"{relpath}: run folder not in the ledger (planted, or its prune did not finish)")
    return problems + _asset_problems(root, sealed)


def _asset_problems(root: Path, sealed: dict[str, dict[str, Any]]) -> list[str]:
    """Each linked asset present with the ledger's hash (which is also its name); none unlinked."""
    linked: dict[str, str] = {}
    for entry in sealed.values():
        for name, digest in (entry.get("assets") or {}).items() if isinstance(entry.get("assets"), dict) else []:
            linked[str(name)] = str(digest)
    folder = root / ASSETS
    if folder.is_symlink():
        return []
    problems = []
    for name, digest in sorted(linked.items()):
        if not NAME.match(name) or name != f"sha256-{digest}.{name.rsplit('.', 1)[-1]}":
            problems.append(f"{ASSETS}/{name}: the ledger's hash does not match the asset's name")
            continue
        problems.extend(_artifact_problem(folder / name, f"{ASSETS}/{name}", digest))
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name not in linked and not path.name.startswith("."):
                problems.append(f"{ASSETS}/{path.name}: not linked by any run in the ledger (added)")
    return problems


def _artifact_problem(path: Path, label: str, expected: Any) -> list[str]:
    info = _lstat(path)
    if info is None:
        return [f"{label}: deleted"]
    if not stat.S_ISREG(info.st_mode):
        return [f"{label}: not a regular file (a symbolic link or folder; never followed)"]
    if info.st_nlink > 1:
        return [f"{label}: is a hard link ({info.st_nlink} names share its bytes, so a file outside the "
                "sealed folder can change it)"]
    try:
        digest = ledger.sha256_file(path)
    except OSError as error:
        return [f"{label}: unreadable ({error.strerror})"]
    if digest != expected:
        return [f"{label}: modified (its SHA-256 differs from the ledger's)"]
    return []
