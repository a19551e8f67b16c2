"""Render an AuditResult as table, JSON, SARIF 2.1.0, JUnit XML or HTML.

``render(result, fmt, include_passed=False)`` returns the text; every format lists
FAIL, WARN, ERROR and INFO findings (waived ones marked as such) and the score,
and states how many checks passed, so a clean result is visibly clean rather
than empty. ``include_passed`` adds the PASS rows too.
"""

from __future__ import annotations

from collections.abc import Callable

from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.html import to_html
from kubebook.audit.exporters.json_out import to_json
from kubebook.audit.exporters.junit import to_junit
from kubebook.audit.exporters.sarif import to_sarif
from kubebook.audit.exporters.table import to_table

FORMATS: dict[str, Callable[[AuditResult, bool], str]] = {
    "table": to_table, "json": to_json, "sarif": to_sarif, "junit": to_junit, "html": to_html,
}


def render(result: AuditResult, fmt: str, include_passed: bool = False) -> str:
    try:
        exporter = FORMATS[fmt]
    except KeyError:
        from kubebook.errors import ParameterError

        raise ParameterError(f"unknown audit format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}") from None
    return exporter(result, include_passed)
