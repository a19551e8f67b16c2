"""Decide what runs, claim it under the locks, run it (in parallel when several), record it.

Every entry point follows the same three steps so concurrent kubebook processes
(two cron-fired ticks, a tick and a manual run, a daemon and ``make run``) agree:

1. **claim** under the schedule's short state lock: decide what is due, record
   missed and skipped due times, and take the run lock (``Forbid``) without
   waiting - if another process holds it, record the skip and say so;
2. **run** outside the state lock, up to ``parallel`` at once (default: the
   number of CPU cores) - a run's CPU work is mostly in its kernel process,
   and the waits between kernel start, cells and archiving overlap well;
3. **finish** under the state lock again: store the last run, drop the
   "running" mark and release the run lock.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from kubebook.errors import KubebookError, ScheduleError
from kubebook.schedule.due import decide, utc
from kubebook.schedule.execute import Attempt, ScheduledRun, run_schedule
from kubebook.schedule.model import Schedule
from kubebook.schedule.state import ScheduleState, StateStore, default_state_dir
from kubebook.schedule.warmkernels import warm_kernels

log = logging.getLogger(__name__)


@dataclass
class Claim:
    """A schedule this process has the right to run now."""

    schedule: Schedule
    trigger: str
    token: str
    due: str | None = None
    lock: FileLock | None = None


@dataclass
class TickReport:
    """What one tick did: the runs (and skips) it handled and when the others are next due."""

    runs: list[ScheduledRun] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)


def default_parallel() -> int:
    """Parallel runs: the machine's cores (kernels and report rendering are CPU-bound)."""
    return max(1, os.cpu_count() or 1)


class Scheduler:
    """Runs schedules against one archive, coordinating with other processes through the state folder."""

    def __init__(self, schedules: list[Schedule], *, archive: Path, state_dir: Path | None = None,
                 kubeconfig: str | None = None, parallel: int | None = None) -> None:
        self.schedules = schedules
        self.archive = Path(archive)
        self.store = StateStore(state_dir or default_state_dir(self.archive))
        self.kubeconfig = kubeconfig
        self.parallel = max(1, parallel or default_parallel())

    # -- entry points -------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Run every schedule that is due at ``now`` (default: the current time); safe to call every minute."""
        now = utc(now or datetime.now(UTC))
        report = TickReport()
        claims = []
        for schedule in self.schedules:
            if not schedule.enabled:
                report.waiting.append((schedule.name, "disabled"))
                continue
            try:
                claim, skipped, next_due = self._claim_due(schedule, now)
            except KubebookError as error:  # one broken state file must not stop the other schedules
                log.error("schedule %s: %s", schedule.name, error)
                report.runs.append(ScheduledRun(schedule.name, f"schedule:{schedule.name}", error=str(error)))
                continue
            except (ValueError, TypeError, OverflowError, OSError) as error:  # nor anything else about one
                log.exception("schedule %s: the tick could not decide about it", schedule.name)
                report.runs.append(ScheduledRun(schedule.name, f"schedule:{schedule.name}",
                                                error=f"the tick could not decide: {type(error).__name__}: "
                                                      f"{str(error)[:200]}"))
                continue
            if claim:
                claims.append(claim)
            elif skipped:
                report.runs.append(skipped)
            else:
                report.waiting.append((schedule.name, f"next due {next_due}"))
        report.runs.extend(self.dispatch(claims))
        return report

    def run_now(self, schedule: Schedule, trigger: str = "manual") -> ScheduledRun:
        """Run one schedule now, whatever its cron says; a ScheduleError if Forbid finds it running."""
        claim, skipped = self._claim_now(schedule, f"{trigger}:{schedule.name}")
        if claim is None:
            assert skipped is not None
            raise ScheduleError(f"schedule '{schedule.name}' is {skipped.skipped}",
                                hint="wait for that run to finish (concurrency_policy Forbid)")
        return self.dispatch([claim])[0]

    def run_all(self, trigger: str = "run-all") -> list[ScheduledRun]:
        """Run every enabled schedule once now, in parallel; the ones already running are reported skipped."""
        claims, results = [], []
        for schedule in self.schedules:
            if not schedule.enabled:
                results.append(ScheduledRun(schedule.name, trigger, skipped="disabled in schedules.yaml"))
                continue
            try:
                claim, skipped = self._claim_now(schedule, f"{trigger}:{schedule.name}")
            except KubebookError as error:
                log.error("schedule %s: %s", schedule.name, error)
                results.append(ScheduledRun(schedule.name, f"{trigger}:{schedule.name}", error=str(error)))
                continue
            if claim:
                claims.append(claim)
            else:
                assert skipped is not None
                results.append(skipped)
        finished = {run.schedule: run for run in self.dispatch(claims)}
        finished.update({run.schedule: run for run in results})
        return [finished[s.name] for s in self.schedules]

    # -- claim / finish -----------------------------------------------------------------------------

    def _claim_due(self, schedule: Schedule, now: datetime) -> tuple[Claim | None, ScheduledRun | None, str]:
        with self.store.locked(schedule.name) as state:
            self._reap(schedule, state, now)
            first_tick = state.first_seen is None
            if first_tick:
                state.first_seen = now.isoformat()
            decision = decide(schedule.cron_expression, now, None if first_tick else state.last_handled)
            next_due = decision.next_due.isoformat() if decision.next_due else "never"
            if decision.due is None:
                return None, None, next_due
            for missed in decision.missed:
                state.record_skip(missed, "missed: only the latest due time is run (at most one catch-up)", now)
            state.missed_total += decision.missed_total
            if decision.missed_total:
                log.warning("schedule %s: %d due time(s) were missed and are recorded as skipped; running %s",
                            schedule.name, decision.missed_total, decision.due.isoformat())
            state.last_due = decision.due.isoformat()
            trigger = f"{'catch-up' if decision.catch_up else 'schedule'}:{schedule.name}"
            claim, reason = self._lock(schedule, state, trigger, decision.due.isoformat(), now)
            if claim is None:
                state.record_skip(decision.due, reason, now)
                return None, ScheduledRun(schedule.name, trigger, due=decision.due.isoformat(), skipped=reason), \
                    next_due
            return claim, None, next_due

    def _claim_now(self, schedule: Schedule, trigger: str) -> tuple[Claim | None, ScheduledRun | None]:
        now = datetime.now(UTC)
        with self.store.locked(schedule.name) as state:
            self._reap(schedule, state, now)
            claim, reason = self._lock(schedule, state, trigger, None, now)
            if claim is None:
                state.record_skip(now, reason, now)
                return None, ScheduledRun(schedule.name, trigger, skipped=reason)
            return claim, None

    def _reap(self, schedule: Schedule, state: ScheduleState, now: datetime) -> None:
        """Record 'running' marks whose process died as interrupted runs.

        Under Forbid a live run holds the run lock, so a free lock means every mark is stale;
        under Allow each mark's process is checked.
        """
        if not state.running:
            return
        if schedule.concurrency_policy == "Forbid":
            lock = self.store.try_run_lock(schedule.name)
            if lock is None:
                return
            lock.release()
            _record_interrupted(state, state.running, now)
        else:
            _record_interrupted(state, [r for r in state.running if not _alive(r)], now)

    def _lock(self, schedule: Schedule, state: ScheduleState, trigger: str, due: str | None,
              now: datetime) -> tuple[Claim | None, str]:
        """Take the run lock (Forbid) and mark the run in the state; the reason when it is refused."""
        lock = None
        if schedule.concurrency_policy == "Forbid":
            lock = self.store.try_run_lock(schedule.name)
            if lock is None:
                holder = next(iter(state.running), {})
                since = holder.get("started", "an unknown time")
                return None, (f"skipped: still running since {since} (pid {holder.get('pid', '?')}); "
                              "concurrency_policy Forbid")
        token = uuid.uuid4().hex
        state.running.append({"token": token, "pid": os.getpid(), "host": socket.gethostname(),
                              "started": now.isoformat(), "due": due, "trigger": trigger})
        return Claim(schedule, trigger, token, due, lock), ""

    def _finish(self, claim: Claim, result: ScheduledRun) -> None:
        try:
            with self.store.locked(claim.schedule.name) as state:
                state.running = [r for r in state.running if r.get("token") != claim.token]
                state.last_run = result.as_state()
        finally:
            if claim.lock is not None:
                claim.lock.release()

    # -- run ----------------------------------------------------------------------------------------

    def dispatch(self, claims: list[Claim]) -> list[ScheduledRun]:
        """Run claimed schedules, up to ``parallel`` at once, and finish each claim as its run ends.

        Runs go to threads, not processes: each run's work happens in its own kernel
        process and the runner mostly waits on it, so threads overlap the waits
        without paying a fresh interpreter's imports per worker. With more than one
        run, kernels are started warm (see :mod:`kubebook.schedule.warmkernels`):
        the next runs' kernels import ipykernel while the current ones execute
        (``KUBEBOOK_WARM_KERNELS=0`` turns that off).
        """
        if not claims:
            return []
        if len(claims) == 1:
            return [self._run_guarded(claims[0])]
        workers = min(self.parallel, len(claims))
        warm = 0 if os.environ.get("KUBEBOOK_WARM_KERNELS", "1") == "0" else workers
        with warm_kernels(ready=warm, budget=len(claims) if warm else 0), \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kubebook-run") as pool:
            futures = [pool.submit(self._run_guarded, claim) for claim in claims]
            return [future.result() for future in futures]

    def _run_guarded(self, claim: Claim) -> ScheduledRun:
        """Run and always finish the claim; a crash of the scheduler's own code becomes a failed run."""
        try:
            result = run_schedule(claim.schedule, archive=self.archive, kubeconfig=self.kubeconfig,
                                  trigger=claim.trigger, due=claim.due)
        except Exception as error:
            log.exception("schedule %s: the scheduler failed while running it", claim.schedule.name)
            now = datetime.now(UTC).isoformat()
            result = ScheduledRun(claim.schedule.name, claim.trigger, claim.due, attempts=[Attempt(
                run_id="", status="failed", exit_code=1, run_dir=None, started=now, ended=now,
                error=f"scheduler error: {error.__class__.__name__}: {error}")])
        self._finish(claim, result)
        return result


def _alive(entry: dict[str, Any]) -> bool:
    """Whether a 'running' mark's process still exists (only decidable on the same host)."""
    if entry.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(entry.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _record_interrupted(state: ScheduleState, stale: Iterable[dict[str, Any]], now: datetime) -> None:
    """Runs whose process died without finishing: record them so the gap in the archive is explained."""
    stale = list(stale)
    for entry in stale:
        reason = (f"interrupted: process {entry.get('pid')} ended before recording a result "
                  f"(noticed {now.isoformat()})")
        state.last_run = {"status": "interrupted", "trigger": entry.get("trigger"), "due": entry.get("due"),
                          "started": entry.get("started"), "ended": None, "attempts": None, "run_id": None,
                          "run_dir": None, "error": reason}
        when = entry.get("due") or entry.get("started")
        state.record_skip(datetime.fromisoformat(when) if when else now, reason, now)
    tokens = {e.get("token") for e in stale}
    state.running = [r for r in state.running if r.get("token") not in tokens]
