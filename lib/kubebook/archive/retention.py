"""Which runs to keep: keep-last-N plus grandfather-father-son, per runbook.

The policy is the one restic and borg use: keep the N newest runs, the newest
run of each of the last D days that have runs, of the last W ISO weeks and of
the last M months; everything else goes. One rule overrides them all: the
newest *successful* run of a runbook is never deleted, so a string of failures
cannot prune away the last good evidence. "A runbook" here is the notebook's
identity (its path in the repository or a declared id), never the folder-safe
name several notebooks can share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kubebook.errors import ParameterError


class RunLike(Protocol):
    run_id: str
    runbook: str
    notebook: str
    status: str
    started: datetime


@dataclass
class PrunePlan:
    """What a prune keeps (with the reasons) and removes."""

    keep: dict[str, list[str]] = field(default_factory=dict)
    remove: list[Any] = field(default_factory=list)


def _buckets(runs: list[RunLike], count: int, key: Callable[[datetime], object], reason: str,
             keep: dict[str, list[str]]) -> None:
    seen: list[object] = []
    for run in runs:
        bucket = key(run.started)
        if bucket in seen:
            continue
        if len(seen) >= count:
            return
        seen.append(bucket)
        keep.setdefault(run.run_id, []).append(reason)


def check_policy(*, keep_last: int = 0, keep_daily: int = 0, keep_weekly: int = 0, keep_monthly: int = 0) -> None:
    """Raise ParameterError for a negative count or a policy that would keep nothing."""
    counts = {"--keep-last": keep_last, "--keep-daily": keep_daily, "--keep-weekly": keep_weekly,
              "--keep-monthly": keep_monthly}
    negative = [f"{flag} is {value}; use 0 or more" for flag, value in counts.items() if value < 0]
    if negative:
        raise ParameterError("invalid retention policy", problems=negative)
    if not any(counts.values()):
        raise ParameterError("a prune needs at least one of --keep-last, --keep-daily, --keep-weekly, "
                             "--keep-monthly", hint="e.g. --keep-last 10 --keep-daily 7")


def plan(runs: Iterable[RunLike], *, keep_last: int = 0, keep_daily: int = 0, keep_weekly: int = 0,
         keep_monthly: int = 0) -> PrunePlan:
    """Apply the policy to ``runs``; raises ParameterError for a policy that would keep nothing."""
    check_policy(keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly, keep_monthly=keep_monthly)
    by_runbook: dict[str, list[RunLike]] = defaultdict(list)
    for run in runs:
        by_runbook[getattr(run, "notebook", "") or run.runbook].append(run)
    result = PrunePlan()
    for group in by_runbook.values():
        group.sort(key=lambda r: (r.started, r.run_id), reverse=True)
        keep: dict[str, list[str]] = {}
        for run in group[:keep_last]:
            keep.setdefault(run.run_id, []).append("last")
        _buckets(group, keep_daily, lambda t: t.date(), "daily", keep)
        _buckets(group, keep_weekly, lambda t: tuple(t.isocalendar())[:2], "weekly", keep)
        _buckets(group, keep_monthly, lambda t: (t.year, t.month), "monthly", keep)
        good = next((run for run in group if run.status == "succeeded"), None)
        if good is not None:
            keep.setdefault(good.run_id, []).append("last successful run")
        result.keep.update(keep)
        result.remove.extend(run for run in group if run.run_id not in keep)
    return result
