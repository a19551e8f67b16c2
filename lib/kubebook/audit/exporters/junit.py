"""JUnit XML export: one testsuite per section, one testcase per (check, resource).

FAIL becomes <failure>, ERROR <error>, WARN a <failure type="WARN">, waived
findings <skipped> with the waiver reason (a CI server shows them as skipped,
not passed). PASS rows are included so the counts match the audit.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import resource_name, shown

# What XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF), shown escaped instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """``value`` as text an XML 1.0 document can carry: a control character becomes ``\\x01``."""
    text = str(value)
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text) if _NOT_XML.search(text) else text


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
            case = ET.SubElement(suite, "testcase", classname=xml_text(f"{section}.{row['check']}"),
                                 name=xml_text(resource_name(row)))
            stats["tests"] += 1
            if row["waived"]:
                ET.SubElement(case, "skipped", message=xml_text(f"waived: {row['waiver']}"))
                stats["skipped"] += 1
            elif row["result"] == "ERROR":
                ET.SubElement(case, "error", message=xml_text(row["message"]), type="ERROR").text = row["remediation"]
                stats["errors"] += 1
            elif row["result"] in ("FAIL", "WARN"):
                failure = ET.SubElement(case, "failure", message=xml_text(row["message"]),
                                        type=f"{row['result']}:{row['severity']}")
                failure.text = row["remediation"]
                stats["failures"] += 1
            elif row["result"] == "INFO":
                ET.SubElement(case, "system-out").text = xml_text(row["message"])
        for key, value in stats.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
