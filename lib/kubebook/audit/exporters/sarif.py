"""SARIF 2.1.0 export: one run, one rule per check, one result per non-passing finding.

Manifest findings point at the file and line the object starts on; cluster
findings carry a logical location ``Kind/namespace/name``. Waived findings are
kept with an external suppression (their justification is the waiver reason),
so code-scanning UIs show them as suppressed rather than dropping them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubebook import __version__
from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import nullable, resource_name, shown

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def _level(result: str, severity: str) -> str:
    if result == "ERROR":
        return "error"
    if result in ("WARN", "INFO"):
        return "warning" if result == "WARN" else "note"
    return LEVEL[severity]


def _rule(row: dict[str, Any]) -> dict[str, Any]:
    tags = ["security", "kubernetes", row["section"]]
    if nullable(row["pss_level"]):
        tags.append(f"pss-{row['pss_level']}")
    rule: dict[str, Any] = {
        "id": row["check"], "name": row["check"].replace(".", "_").replace("-", "_"),
        "shortDescription": {"text": row["title"]},
        "fullDescription": {"text": row["title"]},
        "help": {"text": row["remediation"]},
        "defaultConfiguration": {"level": LEVEL[row["severity"]]},
        "properties": {"tags": tags, "severity": row["severity"], "cis": nullable(row["cis"]),
                       "pss_level": nullable(row["pss_level"]),
                       "security-severity": SECURITY_SEVERITY[row["severity"]]},
    }
    return rule


def _location(row: dict[str, Any], origins: dict[Any, tuple[str, int]]) -> dict[str, Any]:
    name = resource_name(row)
    location: dict[str, Any] = {"logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}
    origin = origins.get((row["kind"], nullable(row["namespace"]), row["name"]))
    if origin is None and row["kind"] == "File":
        origin = (row["name"].rsplit(":", 1)[0], 1)
    if origin is not None:
        path, line = origin
        location["physicalLocation"] = {"artifactLocation": {"uri": file_uri(path)},
                                        "region": {"startLine": max(1, int(line))}}
    return location


def file_uri(path: str) -> str:
    """A SARIF ``uri-reference`` for a file path: percent-encoded (``my app.yaml`` -> ``my%20app.yaml``)."""
    from urllib.parse import quote

    return quote(Path(path).as_posix(), safe="/:@!$&'()*+,;=-._~")


def document(result: AuditResult, include_passed: bool = False) -> dict[str, Any]:
    rows = shown(result, include_passed=False)
    rules: dict[str, int] = {}
    rule_list: list[dict[str, Any]] = []
    results = []
    for row in rows:
        if row["check"] not in rules:
            rules[row["check"]] = len(rule_list)
            rule_list.append(_rule(row))
        item: dict[str, Any] = {
            "ruleId": row["check"], "ruleIndex": rules[row["check"]],
            "level": _level(row["result"], row["severity"]),
            "kind": "fail" if row["result"] in ("FAIL", "ERROR", "WARN") else "informational",
            "message": {"text": f"{resource_name(row)}: {row['message']}"},
            "locations": [_location(row, result.origins)],
            "properties": {"result": row["result"], "severity": row["severity"]},
        }
        if row["waived"]:
            item["suppressions"] = [{"kind": "external", "status": "accepted", "justification": row["waiver"]}]
        results.append(item)
    return {
        "$schema": SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "kubebook", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://kubernetes.io/docs/concepts/security/",
                                "rules": rule_list}},
            "invocations": [{"executionSuccessful": True, "endTimeUtc": result.generated_at.replace("+00:00", "Z")}],
            "results": results,
            "properties": {"score": result.score, "source": result.source, "location": result.location},
        }],
    }


def to_sarif(result: AuditResult, include_passed: bool = False) -> str:
    return json.dumps(document(result), separators=(",", ":")) + "\n"
