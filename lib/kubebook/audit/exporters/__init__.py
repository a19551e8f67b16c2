"""Render an AuditResult as table, JSON, SARIF 2.1.0, JUnit XML or HTML.

``render(result, fmt, include_passed=False)`` returns the text; every format lists
FAIL, WARN, ERROR and INFO findings (waived ones marked as such) and the score,
and states how many checks passed, so a clean result is visibly clean rather
than empty. ``include_passed`` adds the PASS rows too.
"""

from __future__ import annotations

import importlib

from kubebook.audit.engine import AuditResult

# format -> (module, function): only the chosen exporter is imported (html and junit pull in the
# html and xml packages, measured at ~30 ms of a manifest audit's start-up for nothing).
FORMATS: dict[str, tuple[str, str]] = {
    "table": ("table", "to_table"), "json": ("json_out", "to_json"), "sarif": ("sarif", "to_sarif"),
    "junit": ("junit", "to_junit"), "html": ("html", "to_html"),
}


def render(result: AuditResult, fmt: str, include_passed: bool = False) -> str:
    try:
        module, function = FORMATS[fmt]
    except KeyError:
        from kubebook.errors import ParameterError

        raise ParameterError(f"unknown audit format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}") from None
    exporter = getattr(importlib.import_module(f"kubebook.audit.exporters.{module}"), function)
    return str(exporter(result, include_passed))
