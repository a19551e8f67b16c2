"""The report archive: sealed run folders, a hash-chained ledger, an index and retention.

Layout under the root (``--archive``, else ``$KUBEBOOK_ARCHIVE``, else ``reports`` under
the repository root; see :mod:`kubebook.archive.location`)::

    <runbook>/<YYYY>/<MM>/<run-id>/notebook.ipynb  report.html  results.json   (read-only)
    ledger.jsonl       one hash-chained entry per sealed run or prune
    index.json, index.html
    .quarantine/<run-id>/   artifacts that failed the secret scan (0700, never indexed)

:class:`Archive` is the facade; the runner calls :meth:`Archive.seal_run`, the
CLI and the scheduler the rest.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kubebook.archive import index, ledger, retention, store
from kubebook.archive.location import default_root, notebook_identity, repository_root
from kubebook.archive.verify import path_problem, structural_problems
from kubebook.archive.verify import verify as _verify
from kubebook.errors import ArchiveError, ParameterError

__all__ = ["Archive", "ArchiveUnwritable", "RunRecord", "default_root", "ledger", "notebook_identity",
           "parse_since", "repository_root"]


class ArchiveUnwritable(ArchiveError):
    """The archive folder cannot be written (read-only, full, not a folder); nothing was half-done."""

    exit_code = 2


@contextmanager
def _writing(root: Path) -> Iterator[None]:
    """Turn the operating system's refusal to write into one line naming the archive."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = f" ({error.filename})" if error.filename else ""
        raise ArchiveUnwritable(f"the archive {root} is not writable: {reason}{where}",
                                hint="check its permissions and free space, or pass --archive DIR") from error

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | date | datetime) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` ago, or an ISO date/datetime (UTC when no zone is given)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    match = _RELATIVE.match(value.strip())
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ParameterError(f"--since {value!r} is not a date",
                             hint="use e.g. 7d, 12h, 2026-01-31 or 2026-01-31T08:00") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def who() -> str:
    """``user@host`` for the evidence of who ran or pruned."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class RunRecord:
    """One archived run as the ledger describes it."""

    root: Path
    run_id: str
    runbook: str
    status: str
    started: datetime
    ended: datetime | None
    duration: float | None
    path: str
    trigger: str
    exit_code: int | None
    notebook: str = ""

    @property
    def run_dir(self) -> Path:
        return self.root / self.path

    def to_dict(self, *, absolute: bool = False) -> dict[str, Any]:
        """The one row shape for index.json, ``reports list --json`` and the report browser.

        ``absolute`` adds ``run_dir``; the index leaves it out so a moved archive stays right.
        """
        row = {"run_id": self.run_id, "runbook": self.runbook, "notebook": self.notebook or self.runbook,
               "status": self.status, "started": self.started.isoformat(),
               "ended": self.ended.isoformat() if self.ended else None, "duration_seconds": self.duration,
               "trigger": self.trigger, "exit_code": self.exit_code, "path": self.path,
               "report": f"{self.path}/{store.HTML}"}
        if absolute:
            row["run_dir"] = str(self.run_dir)
        return row

    @classmethod
    def from_entry(cls, root: Path, entry: dict[str, Any]) -> RunRecord:
        ended = entry.get("ended")
        return cls(root=root, run_id=entry["run_id"], runbook=entry["runbook"], status=entry["status"],
                   started=datetime.fromisoformat(entry["started"]),
                   ended=datetime.fromisoformat(ended) if ended else None,
                   duration=entry.get("duration_seconds"), path=entry["path"],
                   trigger=entry.get("trigger", "cli"), exit_code=entry.get("exit_code"),
                   notebook=str(entry.get("notebook") or entry["runbook"]))


class Archive:
    """A report archive rooted at ``root``; every write goes through the ledger lock."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = default_root(root)
        self._lock: Any = None

    @property
    def ledger_path(self) -> Path:
        return self.root / ledger.LEDGER

    def _locked(self) -> Any:
        if self._lock is None:
            from filelock import FileLock

            self.root.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.root / ledger.LOCK))
        return self._lock

    # -- reading -----------------------------------------------------------------------------
    def _records(self) -> list[RunRecord]:
        live: dict[str, RunRecord] = {}
        for entry in ledger.entries(self.ledger_path):
            try:
                if entry.get("type") == "run":
                    if path_problem(self.root, entry.get("path"), on_disk=False):
                        continue  # outside the root or through a symlink: verify names it
                    record = RunRecord.from_entry(self.root, entry)
                    live[record.run_id] = record
                elif entry.get("type") == "prune":
                    for removed in entry.get("removed", []):
                        live.pop(removed.get("run_id", ""), None)
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry: verify names it, listing skips it
        return sorted(live.values(), key=lambda r: (r.started, r.run_id), reverse=True)

    def list_runs(self, runbook: str | None = None, status: str | None = None,
                  since: str | date | datetime | None = None) -> list[RunRecord]:
        """Archived (not pruned) runs, newest first, filtered by runbook (name or notebook), status and start."""
        cutoff = parse_since(since) if since is not None else None
        return [r for r in self._records()
                if (runbook is None or runbook in (r.runbook, r.notebook)) and (status is None or r.status == status)
                and (cutoff is None or r.started >= cutoff)]

    def find(self, run_id: str) -> RunRecord:
        """The run whose id is ``run_id`` or starts with it (a unique prefix)."""
        matches = [r for r in self._records() if r.run_id == run_id] or \
                  [r for r in self._records() if r.run_id.startswith(run_id)]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise ArchiveError(f"{what} in {self.root} match {run_id!r}",
                               hint="see 'kubebook reports list' for run ids")
        return matches[0]

    def results(self, run_id: str) -> dict[str, Any]:
        """The ``results.json`` of a run."""
        record = self.find(run_id)
        try:
            return dict(json.loads((record.run_dir / store.RESULTS).read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise ArchiveError(f"cannot read results of run {record.run_id}: {error}",
                               hint="run 'kubebook reports verify'") from error

    def head(self) -> tuple[int, str]:
        """Number of ledger entries and the SHA-256 of the last one."""
        return ledger.head(self.ledger_path)

    def verify(self) -> list[str]:
        """Every mismatch between the archive and its ledger, each naming a file or ledger line."""
        return _verify(self.root)

    # -- writing -----------------------------------------------------------------------------
    def write_index(self) -> Path:
        """Regenerate ``index.json`` and ``index.html`` from the ledger; returns the HTML path."""
        with _writing(self.root), self._locked():
            return index.write(self.root, self._records())

    def seal_run(self, *, run_id: str, runbook: str, started: datetime, ended: datetime, status: str,
                 exit_code: int, trigger: str, artifacts: dict[str, bytes], notebook: str | None = None,
                 extra: dict[str, Any] | None = None, assets: dict[str, bytes] | None = None) -> Path:
        """Write a run's folder atomically, seal it, append its ledger entry and refresh the index.

        ``notebook`` is the run's identity for retention and filtering (see
        :func:`~kubebook.archive.location.notebook_identity`); it defaults to ``runbook``.
        ``extra`` adds fields to the ledger entry; ``assets`` are content-addressed files the
        artifacts link to (see :mod:`kubebook.archive.assets`), stored once and listed in the entry.
        """
        relpath = store.run_relpath(runbook, started, run_id)
        problem = path_problem(self.root, relpath)
        if problem:
            raise ArchiveError(f"run {run_id} cannot be sealed: {problem}", hint="run 'kubebook reports verify'")
        folder = store.write_sealed_run(self.root, relpath, artifacts)
        entry = {"type": "run", "run_id": run_id, "runbook": runbook, "notebook": notebook or runbook,
                 "path": relpath, "status": status,
                 "exit_code": exit_code, "trigger": trigger, "started": started.isoformat(),
                 "ended": ended.isoformat(), "duration_seconds": round((ended - started).total_seconds(), 3),
                 "sealed_at": datetime.now(UTC).isoformat(),
                 "artifacts": {name: ledger.sha256(data) for name, data in artifacts.items()}, **(extra or {})}
        if assets:
            entry["assets"] = {name: ledger.sha256(data) for name, data in sorted(assets.items())}
        with self._locked():  # assets under the lock: a concurrent prune must not collect them first
            store.write_assets(self.root, assets or {})
            ledger.append(self.ledger_path, entry)
            index.write(self.root, self._records())
        return folder

    def _finish_earlier_prunes(self) -> None:
        """Delete folders an earlier prune recorded as removed but did not get to (it was interrupted)."""
        for entry in ledger.entries(self.ledger_path):
            if entry.get("type") == "prune":
                for removed in entry.get("removed") or []:
                    path = removed.get("path") if isinstance(removed, dict) else None
                    if path_problem(self.root, path) is None:  # checked again just before: never outside
                        store.remove_sealed(self.root / str(path))

    def _linked_assets(self, exclude: set[str]) -> set[str]:
        """Asset names the live runs (minus ``exclude``) link to."""
        live: dict[str, set[str]] = {}
        for entry in ledger.entries(self.ledger_path):
            if entry.get("type") == "run" and isinstance(entry.get("assets"), dict):
                live[str(entry.get("run_id"))] = set(entry["assets"])
            elif entry.get("type") == "prune":
                for removed in entry.get("removed") or []:
                    if isinstance(removed, dict):
                        live.pop(str(removed.get("run_id")), None)
        return {name for run_id, names in live.items() if run_id not in exclude for name in names}

    def quarantine(self, run_id: str, artifacts: dict[str, bytes]) -> Path:
        """Keep artifacts that failed the secret scan out of the archive, readable by the owner only."""
        return store.write_quarantine(self.root, run_id, artifacts)

    def prune(self, *, keep_last: int = 0, keep_daily: int = 0, keep_weekly: int = 0, keep_monthly: int = 0,
              runbook: str | None = None, dry_run: bool = False) -> retention.PrunePlan:
        """Delete the runs the retention policy does not keep, recording the deletion in the ledger.

        Refuses (ArchiveError, nothing deleted) when the archive's structure is damaged: a
        broken ledger chain, a ledger path outside the root, a symlink among the run folders.
        """
        retention.check_policy(keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly,
                               keep_monthly=keep_monthly)
        if not (self.root / ledger.LEDGER).exists() and not self.root.is_dir():
            return retention.PrunePlan()
        with _writing(self.root), self._locked():
            damage = structural_problems(self.root)
            if damage:
                more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
                raise ArchiveError(f"prune refused, nothing deleted: the archive {self.root} is damaged: "
                                   f"{damage[0]}{more}",
                                   hint="run 'kubebook reports verify' to see every problem, repair them, retry")
            plan = retention.plan(self.list_runs(runbook=runbook), keep_last=keep_last, keep_daily=keep_daily,
                                  keep_weekly=keep_weekly, keep_monthly=keep_monthly)
            if dry_run:
                return plan
            self._finish_earlier_prunes()
            if not plan.remove:
                return plan
            gone = {r.run_id for r in plan.remove}
            stale = store.stale_assets(self.root, self._linked_assets(exclude=gone))
            ledger.append(self.ledger_path, {
                "type": "prune", "at": datetime.now(UTC).isoformat(), "by": who(),
                "policy": {"keep_last": keep_last, "keep_daily": keep_daily, "keep_weekly": keep_weekly,
                           "keep_monthly": keep_monthly, "runbook": runbook},
                "removed": [{"run_id": r.run_id, "path": r.path} for r in plan.remove],
                **({"assets_removed": stale} if stale else {})})
            for run in plan.remove:  # the ledger says they go; now make it so
                store.remove_sealed(run.run_dir)
            store.delete_assets(self.root, stale)
            index.write(self.root, self._records())
        return plan
