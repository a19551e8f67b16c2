"""JUnit XML export: one testsuite per section, one testcase per (check, resource).

FAIL becomes <failure>, ERROR <error>, WARN a <failure type="WARN">, waived
findings <skipped> with the waiver reason (a CI server shows them as skipped,
not passed). PASS rows are included so the counts match the audit.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import resource_name, shown


def to_junit(result: AuditResult, include_passed: bool = True) -> str:
    by_section: dict[str, list[dict[str, Any]]] = {}
    for row in shown(result, include_passed=True):
        by_section.setdefault(str(row["section"]), []).append(row)
    root = ET.Element("testsuites", name="kubebook audit")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for section, group in sorted(by_section.items()):
        suite = ET.SubElement(root, "testsuite", name=str(section))
        stats = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for row in group:
            case = ET.SubElement(suite, "testcase", classname=f"{section}.{row['check']}", name=resource_name(row))
            stats["tests"] += 1
            if row["waived"]:
                ET.SubElement(case, "skipped", message=f"waived: {row['waiver']}")
                stats["skipped"] += 1
            elif row["result"] == "ERROR":
                ET.SubElement(case, "error", message=row["message"], type="ERROR").text = row["remediation"]
                stats["errors"] += 1
            elif row["result"] in ("FAIL", "WARN"):
                failure = ET.SubElement(case, "failure", message=row["message"],
                                        type=f"{row['result']}:{row['severity']}")
                failure.text = row["remediation"]
                stats["failures"] += 1
            elif row["result"] == "INFO":
                ET.SubElement(case, "system-out").text = row["message"]
        for key, value in stats.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
