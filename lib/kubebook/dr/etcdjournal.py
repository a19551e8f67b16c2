"""The lock and the journal of an etcd restore, so that a restore is never run twice at once and never half done.

A restore replaces all of a cluster's data; two at once both wipe etcd, and one killed mid-way left an
empty cluster that ``cluster up`` started as if nothing had happened. So a restore:

* holds ``flock(2)`` on ``etcd-restore.lock`` in the cluster's folder for its whole length (the kernel drops
  it when the process dies, even by SIGKILL, so a stale lock never blocks anyone) and writes who it is
  into that file, which a second restore quotes when it is refused;
* journals its phase in ``etcd-restore.json`` (an atomic write per step);
* moves the etcd data aside in one rename (``etcd.before-restore``) instead of deleting it, so an
  interrupted restore can be rolled back, and removes it only once the restored cluster is up.

``LocalCluster.up`` reads the same files (their names live in :mod:`kubebook.localcluster.manager`,
the layer below) and refuses to start an etcd whose data was moved aside. (The namespace restore's
journal is :mod:`kubebook.dr.journal`.)
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.errors import ParameterError
from kubebook.fsutil import atomic_write_text
from kubebook.localcluster.manager import ETCD_ASIDE, RESTORE_FINISHING, RESTORE_JOURNAL, RESTORE_LOCK

__all__ = ["ETCD_ASIDE", "RESTORE_FINISHING", "RestoreBusy", "clear", "hold", "read", "write"]


class RestoreBusy(ParameterError):
    """Another process restores this cluster right now; nothing was changed. Wait for it, then retry."""


@contextmanager
def hold(root: Path, what: str) -> Iterator[None]:
    """The cluster's restore lock for the length of the block; refused at once (RestoreBusy) when held."""
    fd = os.open(root / RESTORE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RestoreBusy(f"cluster {root.name!r} is already being restored ({holder}); nothing was changed",
                          hint="wait for it to finish, then retry") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what}, pid {os.getpid()}, since {_now()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read(root: Path) -> dict[str, Any] | None:
    """The journal of a restore that has not finished, or None. A journal that cannot be parsed still counts."""
    path = root / RESTORE_JOURNAL
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"phase": "unknown", "problem": f"{path} cannot be read"}


def write(root: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(root / RESTORE_JOURNAL, json.dumps(doc, indent=1, sort_keys=True))


def clear(root: Path) -> None:
    (root / RESTORE_JOURNAL).unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
