"""Run one schedule: the notebook through the runner, its retries, then its notification.

Each attempt is a complete runner call, so each leaves its own archived report.
Only failures that may pass on their own are retried (a failed cell, a timeout,
a dead kernel); a run that leaked a secret is not, because running it again
would leak it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.errors import KubebookError
from kubebook.schedule.model import Schedule
from kubebook.schedule.notify import Delivery, send_webhook

log = logging.getLogger(__name__)

RETRYABLE = frozenset({"failed", "timeout", "kernel_died"})


@dataclass
class Attempt:
    """One runner call as the scheduler remembers it (a picklable subset of RunOutcome)."""

    run_id: str
    status: str
    exit_code: int
    run_dir: str | None
    started: str
    ended: str
    error: str | None = None

    @classmethod
    def from_outcome(cls, outcome: Any) -> Attempt:
        return cls(run_id=outcome.run_id, status=outcome.status, exit_code=int(outcome.exit_code),
                   run_dir=str(outcome.run_dir) if outcome.run_dir else None,
                   started=outcome.started.isoformat(), ended=outcome.ended.isoformat(), error=outcome.error)


@dataclass
class ScheduledRun:
    """A schedule's run with all its attempts, or the reason it did not run."""

    schedule: str
    trigger: str
    due: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    skipped: str | None = None
    notification: Delivery | None = None
    error: str | None = None  # the scheduler could not even decide about this schedule

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.skipped is not None or not self.attempts:
            return "skipped"
        return self.attempts[-1].status

    @property
    def failed(self) -> bool:
        return self.status not in ("succeeded", "skipped")

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def as_state(self) -> dict[str, Any]:
        """What the state file keeps about this run."""
        last = self.last
        return {"status": self.status, "trigger": self.trigger, "due": self.due, "attempts": len(self.attempts),
                "run_id": last.run_id if last else None, "run_dir": last.run_dir if last else None,
                "started": self.attempts[0].started if self.attempts else None,
                "ended": last.ended if last else None, "error": last.error if last else self.skipped}


def run_schedule(schedule: Schedule, *, archive: Path | None, kubeconfig: str | None, trigger: str,
                 due: str | None = None, sleep: Callable[[float], None] = time.sleep) -> ScheduledRun:
    """Run ``schedule`` now with its retries, then notify; never raises for a failed run."""
    result = ScheduledRun(schedule=schedule.name, trigger=trigger, due=due)
    for attempt in range(schedule.retries + 1):
        result.attempts.append(_attempt(schedule, archive=archive, kubeconfig=kubeconfig, trigger=trigger))
        status = result.attempts[-1].status
        if status not in RETRYABLE or attempt == schedule.retries:
            break
        log.warning("schedule %s: attempt %d/%d ended %s; retrying in %.0fs", schedule.name, attempt + 1,
                    schedule.retries + 1, status, schedule.retry_delay)
        sleep(schedule.retry_delay)
    result.notification = notify(schedule, result)
    return result


def _attempt(schedule: Schedule, *, archive: Path | None, kubeconfig: str | None, trigger: str) -> Attempt:
    from kubebook.runner import EXIT_CELL_ERROR, run_notebook

    started = datetime.now(UTC)
    try:
        outcome = run_notebook(schedule.notebook, dict(schedule.parameters), archive=archive, kubeconfig=kubeconfig,
                               timeout=schedule.timeout, cell_timeout=schedule.cell_timeout, trigger=trigger)
    except KubebookError as error:
        # The runner refused before a report existed (bad parameters, unwritable archive ...).
        log.error("schedule %s: the run could not start: %s", schedule.name, error)
        now = datetime.now(UTC).isoformat()
        return Attempt(run_id="", status="failed", exit_code=getattr(error, "exit_code", EXIT_CELL_ERROR),
                       run_dir=None, started=started.isoformat(), ended=now, error=str(error))
    return Attempt.from_outcome(outcome)


def notification_payload(schedule: Schedule, result: ScheduledRun) -> dict[str, Any]:
    """The JSON body of a webhook: schedule, status, run id, report path, error (and context)."""
    last = result.last
    return {
        "schedule": schedule.name,
        "status": result.status,
        "run_id": last.run_id if last else None,
        "report": last.run_dir if last else None,
        "error": last.error if last else result.skipped,
        "notebook": schedule.notebook.name,
        "attempts": len(result.attempts),
        "trigger": result.trigger,
        "due": result.due,
        "started": result.attempts[0].started if result.attempts else None,
        "ended": last.ended if last else None,
    }


def notify(schedule: Schedule, result: ScheduledRun) -> Delivery | None:
    """Send the schedule's webhook when its status is one it asked about; log, never raise."""
    config = schedule.notify
    if config is None or result.status not in config.statuses:
        return None
    url = config.resolve_url()
    if not url:
        log.error("schedule %s: not notified: environment variable %s holding the webhook URL is not set",
                  schedule.name, config.url_env)
        return Delivery(False, 0, f"${config.url_env} is not set")
    try:
        return send_webhook(url, notification_payload(schedule, result), attempts=config.attempts,
                            backoff=config.backoff)
    except Exception as error:  # a notification must never fail the run it reports
        log.exception("schedule %s: notification crashed", schedule.name)
        return Delivery(False, 0, f"{error.__class__.__name__}: {error}")
