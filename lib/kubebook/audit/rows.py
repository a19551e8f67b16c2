"""An audit's findings as the engines produced them: what an audit holds until somebody asks for pandas.

A short ``kubebook audit --manifests`` spends more time importing pandas and
numpy (0.3-0.6 s) than auditing a thousand objects, and a 50,000-pod cluster
yields ~1.5 million (check, resource) rows, nearly all PASS, which engines emit
as one FindingBatch per check. So the audit keeps the engines' Finding and
FindingBatch entries as they are; waivers, the score, the counts and every
exporter read them directly (a PASS batch costs O(1), not O(resources)), and the
one-row-per-finding DataFrame of ``AuditResult.findings`` is built on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kubebook.audit.model import (
    FAILING_RESULTS,
    RESULTS,
    SEVERITIES,
    Check,
    Finding,
    FindingBatch,
    Resource,
    severity_rank,
)

COLUMNS = ["check", "title", "section", "severity", "cis", "pss_level", "scored", "kind", "namespace", "name",
           "result", "message", "remediation", "waived", "waiver"]
RESULT_ORDER = {"ERROR": 0, "FAIL": 1, "WARN": 2, "INFO": 3, "PASS": 4}
_CHECK_FIELDS = ("title", "section", "severity", "cis", "pss_level", "scored", "remediation")

Entry = Finding | FindingBatch


class FindingRows:
    """Engine output plus the waiver text of waived entries (keyed by entry position).

    Only single findings are ever waived: ``split`` turns a FAIL/WARN batch into
    singles before waivers are matched, so a waiver always covers exactly one row.
    """

    __slots__ = ("entries", "waivers")

    def __init__(self, entries: Iterable[Entry] = (), waivers: dict[int, str] | None = None) -> None:
        self.entries: list[Entry] = list(entries)
        self.waivers: dict[int, str] = dict(waivers or {})

    def __len__(self) -> int:
        return sum(len(e.resources) if type(e) is FindingBatch else 1 for e in self.entries)

    def extend(self, other: FindingRows) -> None:
        offset = len(self.entries)
        self.entries.extend(other.entries)
        self.waivers.update({offset + i: text for i, text in other.waivers.items()})

    def select(self, keep: Callable[[Check], bool]) -> FindingRows:
        """The entries whose check satisfies ``keep`` (waivers carried along)."""
        picked = FindingRows()
        for index, entry in enumerate(self.entries):
            if keep(entry.check):
                if index in self.waivers:
                    picked.waivers[len(picked.entries)] = self.waivers[index]
                picked.entries.append(entry)
        return picked

    def split(self, results: tuple[str, ...]) -> None:
        """Replace every batch whose result is in ``results`` by one Finding per resource."""
        if not any(type(e) is FindingBatch and e.result in results for e in self.entries):
            return
        assert not self.waivers, "split before waivers are applied"
        expanded: list[Entry] = []
        for entry in self.entries:
            if type(entry) is FindingBatch and entry.result in results:
                expanded.extend(entry)
            else:
                expanded.append(entry)
        self.entries = expanded

    def rows(self, *, include_passed: bool = True) -> Iterator[tuple[Check, Resource, str, str, str | None]]:
        """(check, resource, result, message, waiver or None) per row, batches expanded, in engine order."""
        waivers = self.waivers
        for index, entry in enumerate(self.entries):
            if not include_passed and entry.result == "PASS":
                continue
            if type(entry) is FindingBatch:
                check, result, message = entry.check, entry.result, entry.message
                for resource in entry.resources:
                    yield check, resource, result, message, None
            else:
                yield entry.check, entry.resource, entry.result, entry.message, waivers.get(index)

    def records(self, *, include_passed: bool = True) -> list[dict[str, Any]]:
        """Rows as dicts with every column of ``COLUMNS``, worst first: unwaived before waived, then
        result, severity, check and resource (what the exporters print)."""
        return [_record(*row) for row in self.sorted_rows(include_passed=include_passed)]

    def sorted_rows(self, *, include_passed: bool = True) -> list[tuple[Check, Resource, str, str, str | None]]:
        """``rows`` in the order ``records`` uses, as tuples (for exporters that need no dicts)."""
        def key(row: tuple[Check, Resource, str, str, str | None]) -> tuple[Any, ...]:
            check, resource, result, _, waiver = row
            namespace = resource.namespace
            return (waiver is not None, RESULT_ORDER[result], severity_rank(check.severity), check.id,
                    resource.kind, namespace is not None, namespace or "", resource.name)

        return sorted(self.rows(include_passed=include_passed), key=key)

    def counts(self) -> dict[str, int]:
        """Rows per result (waived ones apart, under ``waived``)."""
        out = dict.fromkeys(RESULTS, 0)
        for entry in self.entries:
            out[entry.result] += len(entry.resources) if type(entry) is FindingBatch else 1
        for index in self.waivers:
            out[self.entries[index].result] -= 1
        out["waived"] = len(self.waivers)
        return out

    def failing_by_severity(self) -> dict[str, int]:
        """Unwaived FAIL/ERROR rows per severity."""
        out = dict.fromkeys(SEVERITIES, 0)
        for index, entry in enumerate(self.entries):
            if entry.result in FAILING_RESULTS and index not in self.waivers:
                out[entry.check.severity] += len(entry.resources) if type(entry) is FindingBatch else 1
        return out

    def count_failing(self, fail_on: str = "info") -> int:
        """Unwaived FAIL/ERROR rows at or above severity ``fail_on``."""
        limit = severity_rank(fail_on)
        return sum(count for severity, count in self.failing_by_severity().items() if severity_rank(severity) <= limit)

    def frame(self) -> Any:
        """The rows as a pandas DataFrame with ``COLUMNS`` (object columns keep None as None)."""
        import numpy as np
        import pandas as pd

        def objects(values: list[Any]) -> Any:
            array = np.empty(len(values), dtype=object)  # np.array would build 2-d arrays from tuples
            array[:] = values
            return array

        if not self.entries:
            return pd.DataFrame({c: pd.Series(dtype="bool" if c in ("scored", "waived") else "object")
                                 for c in COLUMNS})
        unique: dict[int, int] = {}
        distinct: list[Check] = []
        codes: list[int] = []
        kinds: list[str] = []
        namespaces: list[str | None] = []
        names: list[str] = []
        results: list[str] = []
        messages: list[str] = []
        waivers: list[str | None] = []
        for index, entry in enumerate(self.entries):
            code = unique.get(id(entry.check))
            if code is None:
                code = unique[id(entry.check)] = len(distinct)
                distinct.append(entry.check)
            if type(entry) is FindingBatch:
                count = len(entry.resources)
                codes.extend([code] * count)
                kinds.extend([r.kind for r in entry.resources])
                namespaces.extend([r.namespace for r in entry.resources])
                names.extend([r.name for r in entry.resources])
                results.extend([entry.result] * count)
                messages.extend([entry.message] * count)
                waivers.extend([None] * count)
            else:
                codes.append(code)
                kinds.append(entry.resource.kind)
                namespaces.append(entry.resource.namespace)
                names.append(entry.resource.name)
                results.append(entry.result)
                messages.append(entry.message)
                waivers.append(self.waivers.get(index))
        index_array = np.asarray(codes, dtype=np.intp)
        columns: dict[str, Any] = {"check": objects([c.id for c in distinct])[index_array]}
        for field in _CHECK_FIELDS:
            values = np.empty(len(distinct), dtype=bool if field == "scored" else object)
            values[:] = [getattr(c, field) for c in distinct]
            columns[field] = values[index_array]
        waiver_array = objects(waivers)
        columns.update({
            "kind": objects(kinds), "namespace": objects(namespaces), "name": objects(names),
            "result": objects(results), "message": objects(messages),
            "waived": np.not_equal(waiver_array, None).astype(bool), "waiver": waiver_array,
        })
        frame = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                              for name, values in columns.items()})
        return frame[COLUMNS]


def _record(check: Check, resource: Resource, result: str, message: str, waiver: str | None) -> dict[str, Any]:
    return {"check": check.id, "title": check.title, "section": check.section, "severity": check.severity,
            "cis": check.cis, "pss_level": check.pss_level, "scored": check.scored, "kind": resource.kind,
            "namespace": resource.namespace, "name": resource.name, "result": result, "message": message,
            "remediation": check.remediation, "waived": waiver is not None, "waiver": waiver}
