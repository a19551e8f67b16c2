"""Atomic file writes: the one place kubebook replaces a file on disk.

A reader (or a crash, or a full disk) must never see half a file: the data is
written to a temporary file beside the target, fsynced, renamed over the target,
and the folder is fsynced so the rename itself survives a power cut. Files are
private by default (``0o600``): state, ledgers and reports can name clusters and
runs, and a caller that wants them world-readable says so.

Errors surface as the ``OSError`` the system gave (read-only folder, no space
left); the temporary file is removed first, so a failed write leaves the old
file and nothing else.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "fsync_dir"]


def fsync_dir(path: Path | str) -> None:
    """Flush a folder's entries (new names, renames) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes, mode: int = 0o600, *, make_parents: bool = True) -> None:
    """Replace ``path`` with ``data`` all at once, with permission bits ``mode``."""
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # the umask may have cleared bits the caller asked for
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_text(path: Path | str, text: str, mode: int = 0o600, *, encoding: str = "utf-8",
                      make_parents: bool = True) -> None:
    """:func:`atomic_write_bytes` for text (UTF-8 unless told otherwise)."""
    atomic_write_bytes(path, text.encode(encoding), mode, make_parents=make_parents)
