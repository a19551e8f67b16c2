"""Files on disk: atomic writes, sealed run folders, the quarantine.

A run folder appears all at once: its artifacts are written into a hidden
staging folder beside it, fsynced, and the folder is renamed into place, so a
reader (or a crash) never sees half a report. After the rename the folder and
its files lose their write bits ("sealed"); the ledger's hashes are what
actually detects a change, the mode bits only stop accidents.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from datetime import datetime
from pathlib import Path

from kubebook.archive.assets import ASSETS, NAME
from kubebook.fsutil import atomic_write_bytes, fsync_dir

NOTEBOOK = "notebook.ipynb"
HTML = "report.html"
RESULTS = "results.json"
ARTIFACTS = (NOTEBOOK, HTML, RESULTS)
QUARANTINE = ".quarantine"
SEALED_FILE_MODE = 0o444
SEALED_DIR_MODE = 0o555
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_root() -> Path:
    """The archive root when none is given (see :func:`kubebook.archive.location.default_root`)."""
    from kubebook.archive.location import default_root as resolve

    return resolve(None)


def runbook_name(notebook: Path) -> str:
    """The archive's name for a notebook: its file stem, made safe for a folder name."""
    name = _UNSAFE.sub("-", Path(notebook).stem).strip("-.")
    if name in (ASSETS, QUARANTINE.strip(".")):
        return f"{name}-notebook"  # never the shared assets folder
    return name or "notebook"


def new_run_id(started: datetime) -> str:
    """Sortable and unique: UTC start second plus 6 random hex digits."""
    return f"{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def run_relpath(runbook: str, started: datetime, run_id: str) -> str:
    """``<runbook>/<YYYY>/<MM>/<run-id>``, relative to the archive root."""
    return f"{runbook}/{started:%Y}/{started:%m}/{run_id}"


def _write_folder(folder: Path, artifacts: dict[str, bytes], file_mode: int) -> None:
    for name, data in artifacts.items():
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(folder / name, file_mode)
    fsync_dir(folder)


def write_sealed_run(root: Path, relpath: str, artifacts: dict[str, bytes]) -> Path:
    """Create ``root/relpath`` holding ``artifacts``, atomically, and seal it read-only."""
    final = root / relpath
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.partial")
    staging.mkdir(mode=0o700)
    try:
        _write_folder(staging, artifacts, SEALED_FILE_MODE)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(final, SEALED_DIR_MODE)
    fsync_dir(final.parent)
    return final


def write_quarantine(root: Path, run_id: str, artifacts: dict[str, bytes]) -> Path:
    """Put a run's artifacts where only the owner can read them, outside the archive proper."""
    base = root / QUARANTINE
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(base, 0o700)
    folder = base / run_id
    folder.mkdir(mode=0o700)
    _write_folder(folder, artifacts, 0o600)
    return folder


def remove_sealed(folder: Path) -> None:
    """Delete a sealed run folder (restoring the write bits first, as deleting needs them).

    Never follows a symlink: a link where the folder should be, or inside it, is
    removed as a link, and its target is left alone.
    """
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):  # a symlink or a file: refuse to treat it as a folder
        raise NotADirectoryError(f"{folder} is not a real folder; not deleted")
    os.chmod(folder, stat.S_IRWXU)
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_sealed(child)
        else:
            child.unlink()
    folder.rmdir()


def is_sealed(folder: Path) -> bool:
    """True when neither the folder nor any file in it has a write bit."""
    paths = [folder, *folder.iterdir()]
    return all(not (p.stat().st_mode & 0o222) for p in paths)


def write_assets(root: Path, assets: dict[str, bytes]) -> None:
    """Store content-addressed assets under ``root/assets`` (read-only; an intact copy is kept as is)."""
    if not assets:
        return
    import hashlib

    folder = root / ASSETS
    if folder.is_symlink():
        raise NotADirectoryError(f"{folder} is a symbolic link; assets are not written through it")
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(assets.items()):
        if not NAME.match(name):
            raise ValueError(f"{name!r} is not a content-addressed asset name")
        path = folder / name
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if hashlib.sha256(handle.read()).hexdigest() == name.split("-", 1)[1].split(".")[0]:
                    continue
        atomic_write_bytes(path, data, SEALED_FILE_MODE, make_parents=False)


def stale_assets(root: Path, keep: set[str]) -> list[str]:
    """The stored assets that no remaining run links to."""
    folder = root / ASSETS
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if NAME.match(p.name) and p.name not in keep and p.is_file() and not p.is_symlink())


def delete_assets(root: Path, names: list[str]) -> None:
    """Delete the named assets (never through a symlink)."""
    for name in names:
        path = root / ASSETS / name
        if NAME.match(name) and not path.is_symlink():
            path.unlink(missing_ok=True)
