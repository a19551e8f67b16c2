"""JSON export: one object with ``findings`` and ``score`` (the CLI's --format json)."""

from __future__ import annotations

import json
from typing import Any

from kubebook import __version__
from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import counts, nullable, shown


def finding_records(result: AuditResult, include_passed: bool) -> list[dict[str, Any]]:
    records = []
    for row in shown(result, include_passed):
        records.append({
            "check": row["check"], "title": row["title"], "severity": row["severity"], "cis": nullable(row["cis"]),
            "pss_level": nullable(row["pss_level"]), "section": row["section"], "result": row["result"],
            "resource": {"kind": row["kind"], "namespace": nullable(row["namespace"]), "name": row["name"]},
            "message": row["message"], "remediation": row["remediation"],
            "waived": bool(row["waived"]), "waiver": nullable(row["waiver"]),
        })
    return records


def document(result: AuditResult, include_passed: bool) -> dict[str, Any]:
    return {
        "tool": {"name": "kubebook", "version": __version__},
        "source": result.source, "location": result.location, "generated_at": result.generated_at,
        "score": result.score,
        "counts": counts(result),
        "expired_waivers": [w.describe() for w in result.expired_waivers],
        "findings": finding_records(result, include_passed),
    }


def to_json(result: AuditResult, include_passed: bool = False) -> str:
    """One compact JSON object (json's C encoder: several times faster than indented output)."""
    return json.dumps(document(result, include_passed), separators=(",", ":")) + "\n"
