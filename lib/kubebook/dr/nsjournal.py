"""A namespace restore's journal: intent, finished objects and a lock; trusted only if it matches backup and cluster.

A restore killed midway is resumed from its journal, so a journal that lies makes a
restore skip work and report success with nothing restored: one left from a first
restore whose target namespace was deleted since, or one written by hand. So:

* the first line is the restore's *intent*, written (and flushed) before the first
  change: the backup's SHA-256, the cluster's fingerprint (server + kube-system uid),
  the namespace mapping and policy, the number of objects;
* a journal whose intent does not match this restore (or that has none) is set
  aside, named in the result, and the restore starts from the beginning;
* every entry the restore would skip is checked against the cluster first
  (:mod:`kubebook.dr.restore` lists each kind once): an object that is gone, or has
  another uid than the one journaled, is restored again;
* while a restore runs it holds an exclusive lock (``flock``) on ``JOURNAL.lock``;
  a second restore of the same backup into the same cluster is refused at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.errors import ParameterError

FORMAT = "kubebook-dr-restore-journal/v1"


class Journal:
    """An open journal: ``done`` holds the trusted entries (key -> {action, uid}); :meth:`add` appends one."""

    def __init__(self, path: Path, intent: dict[str, Any]) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._lock_fd = _lock(self.lock_path)
        try:
            self.done, self.note = _trusted(path, intent)
            if not self.done:  # nothing to resume: a fresh journal whose first line is this restore's intent
                body = json.dumps({"journal": FORMAT, **intent, "started": datetime.now(UTC).isoformat()}) + "\n"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(body)
                    handle.flush()
                    os.fsync(handle.fileno())
            self._handle = path.open("a")
        except BaseException:
            self._unlock()
            raise
        self._write_lock = threading.Lock()

    def add(self, key: str, action: str, uid: str = "") -> None:
        with self._write_lock:
            self._handle.write(json.dumps({"key": key, "action": action, "uid": uid}) + "\n")
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ParameterError(f"another restore of this backup into this cluster is running (it holds {path})",
                             hint="wait for it to finish; nothing was changed") from None
    return fd


def _trusted(path: Path, intent: dict[str, Any]) -> tuple[dict[str, dict[str, str]], str]:
    """The entries of an existing journal written by this same restore, and a note saying what was found."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"journal {path.name} set aside: unreadable ({error})"
    lines = text.splitlines()
    try:
        head = json.loads(lines[0]) if lines else None
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("journal") != FORMAT:
        return {}, f"journal {path.name} set aside: it has no intent line (not written by a kubebook restore)"
    for field in ("backup_sha256", "cluster", "mapping", "policy"):
        if head.get(field) != intent.get(field):
            return {}, f"journal {path.name} set aside: written for another {field.replace('_', ' ')}"
    done: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("action"), str):
            done[entry["key"]] = {"action": entry["action"], "uid": str(entry.get("uid") or "")}
    return done, f"journal {path.name}: {len(done)} finished object(s) from an earlier run, checked against the cluster"
