"""Findings as SARIF 2.1.0, so a code-scanning UI or a SIEM that reads SARIF shows them."""

from __future__ import annotations

from typing import Any

from kubebook.detect import catalog
from kubebook.detect.scan import ScanResult

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def to_sarif(result: ScanResult) -> dict[str, Any]:
    rules = [{"id": r.id, "name": r.id, "shortDescription": {"text": r.title},
              "properties": {"security-severity": SCORE[r.severity], "tags": list(r.techniques),
                             "audit-level": r.level}} for r in catalog.catalogue()]
    results = [{"ruleId": f.rule, "level": LEVEL[f.severity], "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.file},
                                                    "region": {"startLine": max(f.line, 1)}},
                               "logicalLocations": [{"name": f.object}]}],
                "properties": {"audit_id": f.audit_id, "user": f.user, "time": f.time,
                               "source_ips": list(f.source_ips), "techniques": list(f.techniques)}}
               for f in result.findings]
    return {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "kubebook-detect", "rules": rules}}, "results": results,
                      "properties": {"scanned": result.scanned, "corrupt": result.corrupt}}]}
