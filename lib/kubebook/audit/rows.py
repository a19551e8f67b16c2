"""Findings as columns of plain Python lists: what an audit holds until somebody asks for pandas.

A short ``kubebook audit --manifests`` spends more time importing pandas and
numpy (0.3-0.6 s) than auditing a thousand objects, so the audit itself, the
waivers, the score and every exporter work on these lists, and the pandas
DataFrame of ``AuditResult.findings`` is built on first use (notebooks). The
columns hold the Check object per row; its attributes (title, section, severity,
CIS id, ...) are spread into the frame or a record only when needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kubebook.audit.model import Check, Finding, FindingBatch, severity_rank

COLUMNS = ["check", "title", "section", "severity", "cis", "pss_level", "scored", "kind", "namespace", "name",
           "result", "message", "remediation", "waived", "waiver"]
RESULT_ORDER = {"ERROR": 0, "FAIL": 1, "WARN": 2, "INFO": 3, "PASS": 4}
_CHECK_FIELDS = ("title", "section", "severity", "cis", "pss_level", "scored", "remediation")


class FindingRows:
    """One audit's findings, one list per column (row ``i`` is the i-th element of each list)."""

    __slots__ = ("checks", "kinds", "messages", "names", "namespaces", "results", "waived", "waivers")

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.kinds: list[str] = []
        self.namespaces: list[str | None] = []
        self.names: list[str] = []
        self.results: list[str] = []
        self.messages: list[str] = []
        self.waived: list[bool] = []
        self.waivers: list[str | None] = []

    @classmethod
    def from_findings(cls, findings: Iterable[Finding | FindingBatch]) -> FindingRows:
        """Rows from engine output; a FindingBatch becomes one row per resource."""
        rows = cls()
        checks, kinds, namespaces, names = rows.checks, rows.kinds, rows.namespaces, rows.names
        results, messages = rows.results, rows.messages
        for finding in findings:
            if type(finding) is FindingBatch:
                count = len(finding.resources)
                checks.extend([finding.check] * count)
                for resource in finding.resources:
                    kinds.append(resource.kind)
                    namespaces.append(resource.namespace)
                    names.append(resource.name)
                results.extend([finding.result] * count)
                messages.extend([finding.message] * count)
            else:
                resource = finding.resource
                checks.append(finding.check)
                kinds.append(resource.kind)
                namespaces.append(resource.namespace)
                names.append(resource.name)
                results.append(finding.result)
                messages.append(finding.message)
        rows.waived = [False] * len(checks)
        rows.waivers = [None] * len(checks)
        return rows

    def __len__(self) -> int:
        return len(self.checks)

    def extend(self, other: FindingRows) -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def take(self, indices: Iterable[int]) -> FindingRows:
        """A new FindingRows with the rows at ``indices``, in that order."""
        picked = FindingRows()
        indices = list(indices)
        for name in self.__slots__:
            column = getattr(self, name)
            setattr(picked, name, [column[i] for i in indices])
        return picked

    def record(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict with every column of ``COLUMNS``."""
        check = self.checks[i]
        return {"check": check.id, "title": check.title, "section": check.section, "severity": check.severity,
                "cis": check.cis, "pss_level": check.pss_level, "scored": check.scored, "kind": self.kinds[i],
                "namespace": self.namespaces[i], "name": self.names[i], "result": self.results[i],
                "message": self.messages[i], "remediation": check.remediation, "waived": self.waived[i],
                "waiver": self.waivers[i]}

    def indices(self, *, include_passed: bool = True) -> list[int]:
        """Row numbers, worst first: unwaived before waived, then result, severity, check and resource."""
        results = self.results
        chosen = range(len(self)) if include_passed else [i for i, r in enumerate(results) if r != "PASS"]

        def key(i: int) -> tuple[Any, ...]:
            check, namespace = self.checks[i], self.namespaces[i]
            return (self.waived[i], RESULT_ORDER[results[i]], severity_rank(check.severity), check.id,
                    self.kinds[i], namespace is not None, namespace or "", self.names[i])

        return sorted(chosen, key=key)

    def records(self, *, include_passed: bool = True) -> Iterator[dict[str, Any]]:
        """Rows as dicts in ``indices`` order (what the exporters print)."""
        return (self.record(i) for i in self.indices(include_passed=include_passed))

    def count_failing(self, fail_on: str = "info") -> int:
        """Unwaived FAIL/ERROR rows at or above severity ``fail_on``."""
        limit = severity_rank(fail_on)
        return sum(1 for check, result, waived in zip(self.checks, self.results, self.waived, strict=True)
                   if result in ("FAIL", "ERROR") and not waived and severity_rank(check.severity) <= limit)

    def frame(self) -> Any:
        """The rows as a pandas DataFrame with ``COLUMNS`` (object columns keep None as None)."""
        import numpy as np
        import pandas as pd

        def objects(values: list[Any]) -> Any:
            array = np.empty(len(values), dtype=object)  # np.array would build 2-d arrays from tuples
            array[:] = values
            return array

        if not self.checks:
            return pd.DataFrame({c: pd.Series(dtype="bool" if c in ("scored", "waived") else "object")
                                 for c in COLUMNS})
        codes, unique = _factorize(self.checks)
        index = np.asarray(codes, dtype=np.intp)
        columns: dict[str, Any] = {"check": objects([c.id for c in unique])[index]}
        for field in _CHECK_FIELDS:
            values = np.empty(len(unique), dtype=bool if field == "scored" else object)
            values[:] = [getattr(c, field) for c in unique]
            columns[field] = values[index]
        columns.update({
            "kind": objects(self.kinds), "namespace": objects(self.namespaces), "name": objects(self.names),
            "result": objects(self.results), "message": objects(self.messages),
            "waived": np.asarray(self.waived, dtype=bool), "waiver": objects(self.waivers),
        })
        frame = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                              for name, values in columns.items()})
        return frame[COLUMNS]


def _factorize(checks: list[Check]) -> tuple[list[int], list[Check]]:
    """(code per row, distinct checks in first-seen order), keyed by object identity (checks are shared)."""
    seen: dict[int, int] = {}
    unique: list[Check] = []
    codes = []
    for check in checks:
        code = seen.get(id(check))
        if code is None:
            code = seen[id(check)] = len(unique)
            unique.append(check)
        codes.append(code)
    return codes, unique
