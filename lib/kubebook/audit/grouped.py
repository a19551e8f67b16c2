"""Verdicts grouped by (check, result, message): one FindingBatch per group instead of one Finding per verdict.

Per-workload engines give one verdict per check and workload (~50,000 per check
on a 50,000-pod cluster). Workloads built from one spec get the same message, so
appending the Resource to its group's list replaces creating a Finding per
verdict, and everything downstream (waivers, score, counts) then handles a few
entries instead of hundreds of thousands.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubebook.audit.model import Check, Finding, FindingBatch, Resource


class Grouped:
    """Collects verdicts; ``entries()`` gives a Finding for a group of one and a FindingBatch otherwise."""

    __slots__ = ("checks", "groups")

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str], list[Resource]] = {}
        self.checks: dict[str, Check] = {}

    def add(self, check: Check, resource: Resource, result: str, message: str) -> None:
        key = (check.id, result, message)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = []
            self.checks[check.id] = check
        group.append(resource)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def entries(self) -> Iterator[Finding | FindingBatch]:
        for (check_id, result, message), resources in self.groups.items():
            yield entry(self.checks[check_id], resources, result, message)


def entry(check: Check, resources: list[Resource], result: str, message: str) -> Finding | FindingBatch:
    """A Finding for one resource, a FindingBatch for several (never called with none)."""
    if len(resources) == 1:
        return Finding(check, resources[0], result, message)
    return FindingBatch(check, resources, result, message)
