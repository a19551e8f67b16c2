"""Where the archive is, and what a run is a run *of*.

Two questions every entry point (``kubebook run``, ``schedule``, ``reports``, the
report browser in a kernel) must answer the same way:

* The archive root: ``--archive DIR``, else ``$KUBEBOOK_ARCHIVE``, else
  ``reports`` under the repository root. A relative path is taken relative to
  the repository root - not to the current folder, which for a kernel is the
  notebook's folder - and is always returned absolute, so the path a user is
  shown is the path every process uses.
* A notebook's identity: a declared ``metadata.kubebook.id``, else its path
  relative to the repository that holds it. Retention groups runs by this
  identity, never by the folder-safe name, which is lossy (``a b``, ``a&b`` and
  ``a-b`` all become ``a-b``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

ARCHIVE_ENV = "KUBEBOOK_ARCHIVE"
DEFAULT_FOLDER = "reports"
MAX_ID_CHARS = 200
_DECLARED_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def repository_root(start: Path | str | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current folder) holding ``.git``."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _base() -> Path:
    """What relative archive paths are relative to: the current repository, else kubebook's own, else here."""
    found = repository_root()
    if found is None:
        found = repository_root(Path(__file__).resolve().parent)
    return found if found is not None else Path.cwd()


def default_root(archive: Path | str | None = None) -> Path:
    """The archive root, absolute: ``archive``, else ``$KUBEBOOK_ARCHIVE``, else ``<repository>/reports``."""
    chosen = archive if archive not in (None, "") else (os.environ.get(ARCHIVE_ENV) or DEFAULT_FOLDER)
    path = Path(chosen).expanduser()  # type: ignore[arg-type]
    if not path.is_absolute():
        path = _base() / path
    return Path(os.path.normpath(path))


def declared_id(nb: dict[str, Any] | None) -> str | None:
    """``metadata.kubebook.id`` when it is a usable identifier (letters, digits, ``._/-``)."""
    meta = ((nb or {}).get("metadata") or {}).get("kubebook") if isinstance(nb, dict) else None
    value = meta.get("id") if isinstance(meta, dict) else None
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS and _DECLARED_ID.match(value) and ".." not in value:
        return value
    return None


def notebook_identity(notebook: Path | str, nb: dict[str, Any] | None = None) -> str:
    """A declared id, else the notebook's path inside its repository, else its absolute path."""
    path = Path(notebook).absolute()
    if nb is None:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            nb = None
    declared = declared_id(nb)
    if declared:
        return declared
    repo = repository_root(path.parent)
    if repo is not None:
        try:
            return path.relative_to(repo).as_posix()
        except ValueError:
            pass
    return path.as_posix()
