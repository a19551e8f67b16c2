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
from kubebook.schedule.due import moment_problem

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


def _moment_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not an ISO date-time"
    try:
        return moment_problem(datetime.fromisoformat(value))
    except ValueError:
        return "is not an ISO date-time"


def state_problem(data: Any) -> str | None:
    """Why a parsed state file is not one this module wrote (one phrase, no values quoted); None when it is.

    Checked field by field, because a tick acts on these values: a wrong type would otherwise
    crash it midway, and with it every other schedule of that tick.
    """
    if not isinstance(data, dict):
        return f"holds a JSON {type(data).__name__}, not an object"
    if not isinstance(data.get("schedule", ""), str):
        return "field 'schedule' is not text"
    for key in ("first_seen", "last_due"):
        if (problem := _moment_problem(data.get(key))) is not None:
            return f"field '{key}' {problem}"
    if data.get("last_run") is not None and not isinstance(data["last_run"], dict):
        return "field 'last_run' is not an object"
    for key in ("running", "skipped"):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return f"field '{key}' is not a list of objects"
    entries = [*(data.get("running") or []), *([data["last_run"]] if data.get("last_run") else [])]
    for entry in entries:
        for key in ("due", "started", "ended"):
            if (problem := _moment_problem(entry.get(key))) is not None:
                return f"a run's field '{key}' {problem}"
    missed = data.get("missed_total", 0)
    if not isinstance(missed, int) or isinstance(missed, bool) or missed < 0:
        return "field 'missed_total' is not a whole number of at least 0"
    return None


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
            problem = state_problem(data)
        except (ValueError, TypeError, RecursionError, OSError) as error:
            problem = f"not readable JSON ({type(error).__name__})"
        if problem:
            raise ScheduleError(f"schedule state {path} is unreadable: {problem}",
                                hint="delete the file to reset that schedule's history; it will start "
                                     "again as if first seen now")
        fields = {k: v for k, v in data.items() if k in ScheduleState.__dataclass_fields__}
        return ScheduleState(**{**fields, "schedule": name})

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
