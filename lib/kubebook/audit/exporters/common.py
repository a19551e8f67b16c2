"""Helpers shared by the exporters: which rows to show and how to name a resource (no pandas)."""

from __future__ import annotations

from typing import Any

from kubebook.audit.engine import AuditResult
from kubebook.audit.rows import RESULT_ORDER

__all__ = ["RESULT_ORDER", "counts", "nullable", "resource_name", "severity_counts", "shown"]


def shown(result: AuditResult, include_passed: bool) -> list[dict[str, Any]]:
    """Rows to export as dicts, worst first: unwaived first, then result, severity, check and resource."""
    return result.rows.records(include_passed=include_passed)


def resource_name(row: Any) -> str:
    if row["namespace"]:
        return f"{row['kind']}/{row['namespace']}/{row['name']}"
    return f"{row['kind']}/{row['name']}"


def counts(result: AuditResult) -> dict[str, int]:
    """Findings per result, plus waived FAIL/WARN counted apart."""
    return result.rows.counts()


def severity_counts(result: AuditResult) -> dict[str, int]:
    """Unwaived FAIL/ERROR findings per severity."""
    return result.rows.failing_by_severity()


def nullable(value: Any) -> Any:
    """None for a missing value (None or NaN), the value otherwise."""
    return None if value is None or value != value else value
