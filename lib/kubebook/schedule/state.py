"""Per-schedule state and locks in the state folder, safe across processes.

For each schedule the state folder (``$KUBEBOOK_STATE_DIR``, else
``<archive>/.schedule/``) holds:

- ``<name>.json``: a small JSON document (last handled due time, last run,
  runs in progress, recent skips), replaced atomically (write to a temporary
  file, fsync, rename) so a crash never leaves half a file;
- ``<name>.state.lock``: held briefly while a process reads, decides and
  writes the state, so two ticks never claim the same due time;
- ``<name>.run.lock``: held for a whole run (with every retry) under the
  ``Forbid`` policy and tried without waiting, so the same schedule never runs
  twice at once. The operating system releases it if the holder dies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kubebook.errors import ScheduleError
from kubebook.fsutil import atomic_write_text

MAX_SKIPS_KEPT = 50
STATE_LOCK_WAIT = 60.0


@dataclass
class ScheduleState:
    """What the scheduler remembers about one schedule between ticks."""

    schedule: str
    first_seen: str | None = None
    last_due: str | None = None
    last_run: dict[str, Any] | None = None
    running: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    missed_total: int = 0

    @property
    def last_handled(self) -> datetime | None:
        """The baseline for the next due time: the last handled due time, else when first seen."""
        value = self.last_due or self.first_seen
        return datetime.fromisoformat(value) if value else None

    def record_skip(self, due: datetime, reason: str, at: datetime) -> None:
        self.skipped.append({"due": due.isoformat(), "reason": reason, "recorded": at.isoformat()})
        del self.skipped[:-MAX_SKIPS_KEPT]


def default_state_dir(archive: Path) -> Path:
    """``$KUBEBOOK_STATE_DIR``, else ``<archive>/.schedule``."""
    configured = os.environ.get("KUBEBOOK_STATE_DIR")
    return Path(configured) if configured else Path(archive) / ".schedule"


class StateStore:
    """The state folder: per-schedule JSON state plus its state and run locks."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ScheduleError(f"cannot create the schedule state folder {self.root}: {error.strerror}",
                                hint="set KUBEBOOK_STATE_DIR to a writable folder") from error

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def read(self, name: str) -> ScheduleState:
        """The stored state (a fresh one if the schedule has none yet); no lock, for display."""
        path = self.path(name)
        if not path.exists():
            return ScheduleState(schedule=name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return ScheduleState(**{k: v for k, v in data.items() if k in ScheduleState.__dataclass_fields__})
        except (ValueError, TypeError) as error:
            raise ScheduleError(f"schedule state {path} is unreadable: {error}",
                                hint="delete the file to reset that schedule's history; it will start "
                                     "again as if first seen now") from error

    def write(self, state: ScheduleState) -> None:
        """Replace the state file atomically."""
        self._ensure()
        text = json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"
        atomic_write_text(self.path(state.schedule), text)

    @contextmanager
    def locked(self, name: str) -> Iterator[ScheduleState]:
        """Hold ``name``'s state lock, yield its state and write it back when the block succeeds."""
        self._ensure()
        lock = FileLock(self.root / f"{name}.state.lock", timeout=STATE_LOCK_WAIT, thread_local=False)
        try:
            lock.acquire()
        except Timeout as error:
            raise ScheduleError(f"the state of schedule '{name}' stayed locked for {STATE_LOCK_WAIT:.0f}s",
                                hint="another kubebook process is stuck; check 'ps' for kubebook") from error
        try:
            state = self.read(name)
            yield state
            self.write(state)
        finally:
            lock.release()

    def try_run_lock(self, name: str) -> FileLock | None:
        """The acquired run lock of ``name``, or None if a run holds it now (never waits)."""
        self._ensure()
        lock = FileLock(self.root / f"{name}.run.lock", timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock
