"""Which run is due now, and which were missed: the missed-run policy as a pure function.

Policy (the same shape as a Kubernetes CronJob with a generous starting deadline):

- Times are UTC and cron resolution is one minute.
- A schedule seen for the first time starts its history *now*: due times before
  it was first seen are not run (adding a daily job at 14:00 does not run
  "this morning's" 03:00 job).
- When one or more due times passed since the last handled one, only the
  **latest** is run - once, as a catch-up if its minute is already over - and
  every older one is recorded as skipped ("missed"). A scheduler that was down
  for a week therefore runs each schedule once, not once per missed slot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

# How many older missed due times are listed individually; the rest are only counted.
MAX_LISTED_MISSES = 20
# Counting stops here so a long outage of an every-minute schedule stays cheap.
MAX_COUNTED_MISSES = 10_000
# The calendar a tick works in: croniter computes the next due time past `now`, which overflows
# Python's datetime near the year 9999 (a yearly or leap-day cron looks years ahead).
MIN_YEAR, MAX_YEAR = 1970, 9000


@dataclass(frozen=True)
class Decision:
    """What a tick should do for one schedule at ``now``."""

    due: datetime | None
    catch_up: bool = False
    missed: tuple[datetime, ...] = ()
    missed_total: int = 0
    next_due: datetime | None = None
    notes: list[str] = field(default_factory=list)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive input is taken to be UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment_problem(moment: datetime) -> str | None:
    """Why ``moment`` is outside the years a tick can compute due times in; None when it is inside."""
    year = utc(moment).year if moment.year not in (1, 9999) else moment.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"is in the year {year}; use a time between {MIN_YEAR} and {MAX_YEAR}"
    return None


def minute_floor(moment: datetime) -> datetime:
    return utc(moment).replace(second=0, microsecond=0)


def never_fires(cron: str) -> bool:
    """True for a valid expression naming no real date (``0 0 31 2 *``): it would never be due."""
    try:
        croniter(cron, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return True
    return False


def latest_due(cron: str, now: datetime) -> datetime:
    """The latest due time at or before ``now`` (to the minute)."""
    start = minute_floor(now) + timedelta(minutes=1)
    return utc(croniter(cron, start).get_prev(datetime))


def next_due(cron: str, after: datetime) -> datetime | None:
    """The first due time strictly after ``after``; None for a cron that never fires."""
    try:
        return utc(croniter(cron, minute_floor(after)).get_next(datetime))
    except (CroniterBadDateError, OverflowError):
        return None


def decide(cron: str, now: datetime, last_handled: datetime | None) -> Decision:
    """The due run (if any) and the missed ones since ``last_handled``.

    ``last_handled`` is the latest due time already run or skipped, or the time
    the schedule was first seen; the caller stores it in the schedule's state.
    """
    now = utc(now)
    if never_fires(cron):  # validation refuses these; a file edited behind its back must not stop a tick
        return Decision(due=None, next_due=None, notes=[f"'{cron}' never fires"])
    if last_handled is None:
        return Decision(due=None, next_due=next_due(cron, now),
                        notes=["first seen now: earlier due times are not run"])
    baseline = utc(last_handled)
    latest = latest_due(cron, now)
    if latest <= baseline:
        return Decision(due=None, next_due=next_due(cron, max(now, baseline)))
    listed: deque[datetime] = deque(maxlen=MAX_LISTED_MISSES)
    total = 0
    iterator = croniter(cron, baseline)
    while total < MAX_COUNTED_MISSES:
        moment = utc(iterator.get_next(datetime))
        if moment >= latest:
            break
        listed.append(moment)
        total += 1
    catch_up = now - latest >= timedelta(minutes=1)
    return Decision(due=latest, catch_up=catch_up, missed=tuple(listed), missed_total=total,
                    next_due=next_due(cron, now))
